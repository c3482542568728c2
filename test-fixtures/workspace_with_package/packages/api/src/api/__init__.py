from core import VERSION


def admin() -> None:
    print(f"api admin, core {VERSION}")
