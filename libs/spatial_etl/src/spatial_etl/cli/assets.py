"""``spatial-etl assets``: the committed datasets of the lake, as the ledger records them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli import connect
from spatial_etl.cli.help import Command, Group
from spatial_etl.cli.output import (
    WIDE_HELP,
    asset_content,
    asset_summary,
    console,
    errors,
    print_json,
    print_records,
    print_wide,
    size,
    when,
)

if TYPE_CHECKING:
    from spatial_etl.models.ledger import AssetDocument

app = typer.Typer(help="List the lake's committed assets.", no_args_is_help=True, cls=Group)


@app.command("list", cls=Command)
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
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
    timeout: float = typer.Option(
        connect.DEFAULT_TIMEOUT_S, "--timeout", min=0.1, help="Seconds to wait for MongoDB."
    ),
) -> None:
    """List committed assets: each dataset's latest version, by intent and dataset.

    Only committed assets exist in the lake; pending, failed and duplicate records are not
    listed ('spatial-etl status BATCH_ID' shows them).
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
    elif wide:
        print_wide(_table(found, all_versions))
    else:
        print_records(
            (
                f"[bold]{escape(asset.intent)}/{escape(asset.dataset)}[/] v{asset.version}",
                [
                    (
                        "content",
                        escape(asset_summary(asset)),
                    ),
                    ("crs", escape(asset.crs)),
                    ("committed", when(asset.committed_at)),
                    ("object", escape(asset.s3_uri)),
                    ("asset id", asset.asset_id),
                ],
            )
            for asset in found
        )
    if truncated:
        errors.print(f"[yellow]warning:[/] only the first {limit} shown; raise --limit for more")


def _table(found: list[AssetDocument], all_versions: bool) -> Table:
    title = "Committed assets" + ("" if all_versions else " (latest versions)")
    table = Table(title=title, title_justify="left")
    columns = ("Intent", "Dataset", "Version", "Format", "Content", "Size", "CRS")
    for column in (*columns, "Committed", "Object", "Asset id"):
        table.add_column(column, no_wrap=True)
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
    return table
