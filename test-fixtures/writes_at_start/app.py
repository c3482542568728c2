"""Writes where real apps write at start: a `data/` directory it creates next to its code, a
SQLite file in it, a session key file at its root, `~/.cache` and a temporary file."""

import os
import secrets
import sqlite3
import tempfile
from pathlib import Path

from flask import Flask

os.makedirs("data", exist_ok=True)
with sqlite3.connect("data/notes.db") as db:
    db.execute("create table if not exists starts (at text)")
    db.execute("insert into starts values (datetime('now'))")

SESSION_KEY = Path(".sesskey")
if not SESSION_KEY.exists():
    SESSION_KEY.write_text(secrets.token_hex(16))

cache = Path.home() / ".cache"
cache.mkdir(exist_ok=True)
(cache / "writes-at-start").write_text("cached")
with tempfile.NamedTemporaryFile() as scratch:
    scratch.write(b"scratch")

app = Flask(__name__)


@app.get("/")
def index():
    with sqlite3.connect("data/notes.db") as db:
        starts = db.execute("select count(*) from starts").fetchone()[0]
    try:
        with open(__file__, "a"):
            code = "writable"
    except PermissionError:
        code = "read-only"
    return {
        "message": "Hello from an app that writes",
        "uid": os.getuid(),
        "starts": starts,
        "sesskey": len(SESSION_KEY.read_text()),
        "code": code,
    }
