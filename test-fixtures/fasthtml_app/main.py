import os

from fasthtml.common import P, fast_app, serve

app, rt = fast_app()


@rt("/")
def get():
    return P(f"Hello from FastHTML as uid {os.getuid()}")


serve()
