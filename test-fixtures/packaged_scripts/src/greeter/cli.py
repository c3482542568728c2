import click


@click.command()
@click.option("--name", default="Luban")
def main(name: str) -> None:
    click.echo(f"Hello, {name}!")
