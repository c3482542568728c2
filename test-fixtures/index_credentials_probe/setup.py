"""The app's own build backend, as uv runs it during `uv sync`: it records whether it can see
the private index's credentials, never their value, in a module it installs.

The test reads the record from the image; the README says what it shows.
"""

import os

from setuptools import setup


def ancestors_environ():
    """The environments of the processes that started this one (uv among them)."""
    pid = os.getppid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                yield handle.read().decode(errors="replace").split("\0")
            with open(f"/proc/{pid}/stat") as handle:
                pid = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return


def is_index_secret(entry):
    name = entry.split("=", 1)[0]
    return name.startswith("UV_INDEX_") and name.endswith(("_PASSWORD", "_USERNAME"))


in_env = any(is_index_secret(f"{name}=") for name in os.environ)
in_parent = any(is_index_secret(entry) for environ in ancestors_environ() for entry in environ)

os.makedirs("build_result", exist_ok=True)
with open("build_result/index_probe.py", "w") as handle:
    handle.write(f"IN_ENV = {in_env}\nIN_PARENT = {in_parent}\n")

setup(package_dir={"": "build_result"}, py_modules=["index_probe"])
