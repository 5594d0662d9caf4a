"""``spatial-etl ledger``: set up the MongoDB ledger of a deployment."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape

from spatial_etl.cli import connect
from spatial_etl.cli.help import Command, Group
from spatial_etl.cli.output import console, print_json

app = typer.Typer(help="Set up the MongoDB ledger.", no_args_is_help=True, cls=Group)


@app.command("init", cls=Command)
def init(
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the commands and index specs; do not connect."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    timeout: float = typer.Option(
        connect.DEFAULT_TIMEOUT_S, "--timeout", min=0.1, help="Seconds to wait for MongoDB."
    ),
) -> None:
    """Create or update the ledger's collections, validators and indexes; idempotent.

    Uses SPATIAL_ETL_MONGODB_URI and SPATIAL_ETL_MONGODB_DATABASE. An existing collection
    gets its validator replaced (collMod); existing indexes are left alone. Needs MongoDB 6.0
    or later and a user allowed to run create, collMod and createIndex. Exits 2 when MongoDB
    cannot be reached or refuses the credentials.
    """
    from spatial_etl.backends.ledger import collection_commands, index_commands, init_ledger  # noqa: PLC0415

    if dry_run:
        commands, indexes = collection_commands(), index_commands()
        if as_json:
            print_json({"commands": commands, "indexes": indexes})
            return
        console.print(
            "[bold]Collections[/] (a collection that already exists gets the same validator "
            "through collMod instead of create):"
        )
        for command in commands:
            typer.echo(_json(command))
        console.print("\n[bold]Indexes[/] (createIndex; existing identical indexes are kept):")
        for command in indexes:
            typer.echo(_json(command))
        return
    with connect.ledger_errors():
        ledger = connect.open_ledger(timeout)
        try:
            done = init_ledger(ledger.db)
        finally:
            ledger.close()
    if as_json:
        print_json({"database": ledger.db.name, "done": done})
        return
    console.print(f"Ledger ready in database [bold]{escape(ledger.db.name)}[/]:")
    for line in done:
        console.print(f"  - {escape(line)}")


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)
