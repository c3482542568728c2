import os

from django.db import connection
from django.http import JsonResponse
from django.urls import path


def index(request):
    with connection.cursor() as cursor:
        cursor.execute("create table if not exists visits (id integer primary key)")
        cursor.execute("insert into visits default values")
        cursor.execute("select count(*) from visits")
        (visits,) = cursor.fetchone()
    return JsonResponse(
        {"message": "Hello from Django", "uid": os.getuid(), "visits": visits},
        json_dumps_params={"separators": (",", ":")},
    )


urlpatterns = [path("", index)]
