"""The ``spatial-etl`` command line: a thin typer + rich layer over the core.

One module per command group; each loads what it needs when it runs (plugins, settings),
never at import time.
"""

from __future__ import annotations

import typer

from spatial_etl import __version__
from spatial_etl.cli import intents, manifest, plugins

app = typer.Typer(
    name="spatial-etl",
    help="Spatial ETL platform: intents, plugins and manifests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(intents.app, name="intents")
app.add_typer(manifest.app, name="manifest")
app.command("plugins")(plugins.plugins)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"spatial-etl {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Spatial ETL platform command line."""


def main() -> None:
    """Console-script entry point."""
    app()
