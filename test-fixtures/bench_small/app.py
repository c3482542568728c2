import os
import sys

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return {
        "message": "Hello from Luban",
        "python": sys.version.split()[0],
        "uid": os.getuid(),
        "gid": os.getgid(),
    }
