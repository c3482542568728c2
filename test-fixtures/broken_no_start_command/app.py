from flask import Flask

app = Flask(__name__)


@app.get("/")
def index():
    return "Hello from Flask's development server"


if __name__ == "__main__":
    app.run()
