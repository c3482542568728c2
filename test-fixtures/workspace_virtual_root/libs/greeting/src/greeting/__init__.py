def greet(name: str) -> str:
    return f"Hello, {name}, from a library member"
