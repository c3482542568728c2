from core import VERSION
from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return {"message": "Hello from the api member", "core": VERSION}
