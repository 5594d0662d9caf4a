"""``spatial-etl assets``: the committed datasets of the lake, as the ledger records them."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli import connect
from spatial_etl.cli.output import asset_content, console, errors, print_json, size, when

app = typer.Typer(help="List the lake's committed assets.", no_args_is_help=True)


@app.command("list")
def list_assets(  # noqa: PLR0917 - typer passes options by parameter
    intent: str | None = typer.Option(None, "--intent", help="Only assets of this intent."),
    dataset: str | None = typer.Option(None, "--dataset", help="Only this dataset."),
    all_versions: bool = typer.Option(
        False, "--all-versions", help="Every committed version, not only each dataset's latest."
    ),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many assets."),
    as_json: bool = typer.Option(
        False, "--json", help="Print the ledger documents as JSON (datetimes in ISO 8601)."
    ),
    timeout: float = typer.Option(
        connect.DEFAULT_TIMEOUT_S, "--timeout", min=0.1, help="Seconds to wait for MongoDB."
    ),
) -> None:
    """List committed assets: each dataset's latest version, by intent and dataset.

    Only committed assets exist in the lake; pending, failed and duplicate records are not
    listed (``spatial-etl status BATCH_ID`` shows them).
    """
    with connect.ledger_errors():
        ledger = connect.open_ledger(timeout)
        try:
            found = ledger.list_assets(
                intent=intent, dataset=dataset, latest_only=not all_versions, limit=limit + 1
            )
        finally:
            ledger.close()
    truncated = len(found) > limit
    found = found[:limit]
    if as_json:
        print_json([asset.model_dump(mode="json", by_alias=True) for asset in found])
    elif not found:
        console.print("No committed assets" + (" match." if intent or dataset else "."))
    else:
        title = "Committed assets" + ("" if all_versions else " (latest versions)")
        table = Table(title=title, title_justify="left")
        columns = ("Intent", "Dataset", "Version", "Format", "Content", "Size", "CRS")
        for column in (*columns, "Committed"):
            table.add_column(column)
        for column in ("Object", "Asset id"):  # folded, never cut: they are meant to be copied
            table.add_column(column, overflow="fold")
        for asset in found:
            table.add_row(
                escape(asset.intent),
                escape(asset.dataset),
                str(asset.version),
                asset.format,
                escape(asset_content(asset)),
                size(asset.size),
                escape(asset.crs),
                when(asset.committed_at),
                escape(asset.s3_uri),
                asset.asset_id,
            )
        console.print(table)
    if truncated:
        errors.print(f"[yellow]warning:[/] only the first {limit} shown; raise --limit for more")
