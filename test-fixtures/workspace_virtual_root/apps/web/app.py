import os

from flask import Flask
from greeting import greet

app = Flask(__name__)


@app.get("/")
def index():
    return {"message": greet("workspace"), "uid": os.getuid()}
