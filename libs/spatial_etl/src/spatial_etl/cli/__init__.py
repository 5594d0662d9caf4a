"""The ``spatial-etl`` command line: a thin typer + rich layer over the core.

One module per command group; each loads what it needs when it runs (plugins, settings),
never at import time. Other distributions add command groups through the entry-point group
``spatial_etl.commands`` (the Dagster service adds ``local``), loaded by :func:`main` so the
core never imports them.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points

import typer

from spatial_etl import __version__
from spatial_etl.cli import assets, intents, ledger, manifest, plugins, status, upload
from spatial_etl.cli.help import Command, Group

app = typer.Typer(
    name="spatial-etl",
    help="Spatial ETL platform: intents, plugins, manifests, uploads and the ledger.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Group,
)
app.add_typer(intents.app, name="intents")
app.add_typer(manifest.app, name="manifest")
app.command("plugins", cls=Command)(plugins.plugins)
app.add_typer(ledger.app, name="ledger")
app.command("status", cls=Command)(status.status)
app.add_typer(assets.app, name="assets")
app.command("upload", cls=Command)(upload.upload)


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


COMMANDS_GROUP = "spatial_etl.commands"
"""Entry-point group of command groups contributed by other distributions."""


def add_extensions(target: typer.Typer) -> None:
    """Add the installed distributions' command groups; a broken one is reported, not fatal."""
    for entry_point in sorted(entry_points(group=COMMANDS_GROUP), key=lambda ep: ep.name):
        try:
            group = entry_point.load()
        except Exception as error:  # noqa: BLE001 - a broken extension must not break the CLI
            print(
                f"warning: command group {entry_point.name!r} did not load: {error}",
                file=sys.stderr,
            )
            continue
        if isinstance(group, typer.Typer):
            target.add_typer(group, name=entry_point.name)


def main() -> None:
    """Console-script entry point."""
    add_extensions(app)
    app()
