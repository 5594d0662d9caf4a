"""``spatial-etl status BATCH_ID``: what the ledger knows of a batch, its runs and assets."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli import connect
from spatial_etl.cli.output import (
    WIDE_HELP,
    Record,
    asset_content,
    asset_summary,
    console,
    print_items,
    print_json,
    print_records,
    print_wide,
    seconds,
    size,
    styled_status,
    when,
)

if TYPE_CHECKING:
    from spatial_etl.models.ledger import AssetDocument, BatchDocument, RunDocument


def status(
    batch_id: str = typer.Argument(
        ..., metavar="BATCH_ID", help="The batch id (the manifest's file name stem)."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print the ledger documents as JSON (datetimes in ISO 8601)."
    ),
    timeout: float = typer.Option(
        connect.DEFAULT_TIMEOUT_S, "--timeout", min=0.1, help="Seconds to wait for MongoDB."
    ),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """Show a batch's ledger record, its runs and the assets they produced.

    Exits 1 when the ledger has no such batch (its manifest was not seen yet, or the id is
    wrong), 2 when MongoDB cannot be reached.
    """
    with connect.ledger_errors():
        ledger = connect.open_ledger(timeout)
        try:
            batch = ledger.get_batch(batch_id)
            runs = ledger.runs_of_batch(batch_id) if batch is not None else []
            assets = ledger.assets_of_batch(batch_id) if batch is not None else []
        finally:
            ledger.close()
    if batch is None:
        connect.fail(
            f"unknown batch {batch_id!r}: the ledger has no record of it (a manifest is "
            "recorded when the platform first sees manifests/<batch_id>.json)"
        )
    if as_json:
        print_json(
            {
                "batch": _document(batch),
                "runs": [_document(run) for run in runs],
                "assets": [_document(asset) for asset in assets],
            }
        )
        return
    _print_batch(batch)
    _print_runs(runs, wide)
    _print_assets(assets, wide)


def _document(doc: Any) -> Any:
    """A ledger document as JSON, exactly as stored (``_id`` included), datetimes ISO."""
    return doc.model_dump(mode="json", by_alias=True)


def _print_batch(batch: BatchDocument) -> None:
    console.print(f"[bold]Batch {escape(batch.batch_id)}[/]: {styled_status(batch.status)}")
    console.print(f"  intent    {escape(batch.intent or '-')}")
    console.print(f"  uploader  {escape(batch.uploader or '-')}")
    files = batch.manifest.get("files") if batch.manifest else None
    count = f" ({len(files)} file(s))" if isinstance(files, list) else ""
    console.print(f"  manifest  {escape(batch.manifest_key)}{count}")
    console.print(f"  received  {when(batch.received_at)}")
    console.print(f"  updated   {when(batch.updated_at)}")
    if batch.problems:
        console.print(f"\n[red]Rejected[/]: {len(batch.problems)} problem(s)")
        print_items(escape(str(problem)) for problem in batch.problems)


def _duration(run: RunDocument) -> str:
    if run.finished_at is None:
        return "-"
    return seconds((run.finished_at - run.started_at).total_seconds())


def _timings(run: RunDocument) -> str:
    return ", ".join(f"{stage} {seconds(value)}" for stage, value in run.timings.items()) or "-"


def _print_runs(runs: list[RunDocument], wide: bool) -> None:
    if not runs:
        console.print("\nNo runs yet.")
        return
    console.print()
    if wide:
        print_wide(_runs_table(runs))
    else:
        console.print("[bold]Runs[/]")
        print_records(
            (
                f"{escape(run.run_id)}: {styled_status(run.status)}",
                [
                    ("started", when(run.started_at)),
                    ("finished", f"{when(run.finished_at)} ({_duration(run)})"),
                    ("timings", escape(_timings(run))),
                ],
            )
            for run in runs
        )
    for run in runs:
        if run.error is None:
            continue
        where = "".join(
            [
                f" at step {run.error.step!r}" if run.error.step else "",
                f" on {run.error.file}" if run.error.file else "",
            ]
        )
        console.print(f"[red]Run {escape(run.run_id)} failed{escape(where)}:[/]")
        kind = f"{run.error.type}: " if run.error.type else ""
        console.print(f"  {escape(kind + run.error.message)}", soft_wrap=wide)
        for problem in run.cleanup_errors:
            console.print(f"  [yellow]cleanup:[/] {escape(problem)}", soft_wrap=wide)


def _runs_table(runs: list[RunDocument]) -> Table:
    table = Table(title="Runs", title_justify="left")
    for column in ("Run", "Status", "Started", "Finished", "Duration", "Timings"):
        table.add_column(column, no_wrap=True)
    for run in runs:
        table.add_row(
            escape(run.run_id),
            styled_status(run.status),
            when(run.started_at),
            when(run.finished_at),
            _duration(run),
            escape(_timings(run)),
        )
    return table


def _asset_state(asset: AssetDocument) -> str:
    state = styled_status(asset.status)
    if asset.duplicate_of:
        state += f" of {escape(asset.duplicate_of)}"
    if asset.failure:
        state += f": {escape(asset.failure)}"
    return state


def _print_assets(assets: list[AssetDocument], wide: bool) -> None:
    if not assets:
        console.print("\nNo assets.")
        return
    console.print()
    if wide:
        print_wide(_assets_table(assets))
        return
    console.print("[bold]Assets[/]")
    records: list[Record] = [
        (
            f"{escape(asset.dataset)} v{asset.version}: {_asset_state(asset)}",
            [
                ("content", escape(asset_summary(asset))),
                ("object", escape(asset.s3_uri)),
                ("sha256", asset.sha256 or "-"),
            ],
        )
        for asset in assets
    ]
    print_records(records)


def _assets_table(assets: list[AssetDocument]) -> Table:
    table = Table(title="Assets", title_justify="left")
    for column in ("Dataset", "Version", "Status", "Format", "Content", "Size", "Object"):
        table.add_column(column, no_wrap=True)
    table.add_column("SHA-256", no_wrap=True)
    for asset in assets:
        table.add_row(
            escape(asset.dataset),
            str(asset.version),
            _asset_state(asset),
            asset.format,
            escape(asset_content(asset)),
            size(asset.size),
            escape(asset.s3_uri),
            asset.sha256 or "-",
        )
    return table
