import os

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return {"message": "Hello from a Flask package", "uid": os.getuid()}
