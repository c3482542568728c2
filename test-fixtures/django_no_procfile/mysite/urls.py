import os

from django.http import JsonResponse
from django.urls import path


def index(request):
    return JsonResponse(
        {"message": "Hello from Django", "uid": os.getuid()},
        json_dumps_params={"separators": (",", ":")},
    )


urlpatterns = [path("", index)]
