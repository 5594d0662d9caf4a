"""``spatial-etl assets``: the lake's datasets, as the ledger records them.

``list`` searches committed assets (intent, dataset, project, commit time, WGS84 box);
``show`` prints one asset version in any status with its origin, lineage and metadata links.
Text a user wrote (descriptions, projects, paths) goes through ``user_text``: it prints as
typed, never as markup or terminal control.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli import connect
from spatial_etl.cli.help import Command, Group
from spatial_etl.cli.output import (
    WIDE_HELP,
    Record,
    asset_content,
    asset_summary,
    console,
    errors,
    print_fields,
    print_items,
    print_json,
    print_records,
    print_wide,
    size,
    styled_status,
    user_text,
    when,
)
from spatial_etl.errors import AssetQueryError
from spatial_etl.models.asset_search import SearchBox, parse_instant

if TYPE_CHECKING:
    from spatial_etl.models.ledger import AssetDocument, SidecarRole

app = typer.Typer(help="List and show the lake's assets.", no_args_is_help=True, cls=Group)

VERSIONS_SHOWN = 20
"""Other versions and duplicates ``assets show`` lists; more are counted, not listed."""

_LINKS: tuple[tuple[SidecarRole, str], ...] = (
    ("stac_item", "STAC item"),
    ("iso19139", "ISO 19139"),
    ("thumbnail", "quicklook"),
)
"""Sidecar roles in the order ``show`` lists them, with their labels."""


def _instant(text: str) -> datetime:
    try:
        return parse_instant(text)
    except AssetQueryError as error:
        raise typer.BadParameter(str(error)) from None


def _box(text: str) -> SearchBox:
    try:
        return SearchBox.parse(text)
    except AssetQueryError as error:
        raise typer.BadParameter(str(error)) from None


@app.command("list", cls=Command)
def list_assets(  # noqa: PLR0917 - typer passes options by parameter
    intent: str | None = typer.Option(None, "--intent", help="Only assets of this intent."),
    dataset: str | None = typer.Option(None, "--dataset", help="Only this dataset."),
    project: str | None = typer.Option(
        None, "--project", help="Only assets of this project (the manifest's metadata.project)."
    ),
    since: datetime | None = typer.Option(
        None,
        "--since",
        parser=_instant,
        metavar="DATE",
        help="Only assets committed at or after this instant: an ISO 8601 date (midnight "
        "UTC) or date-time (UTC unless it has an offset), e.g. 2025-03-01T12:00:00Z.",
    ),
    until: datetime | None = typer.Option(
        None,
        "--until",
        parser=_instant,
        metavar="DATE",
        help="Only assets committed before this instant (excluded: --until 2025-03-02 ends "
        "with 1 March); with the latest versions, the lake as it was then.",
    ),
    bbox: SearchBox | None = typer.Option(
        None,
        "--bbox",
        parser=_box,
        metavar="W,S,E,N",
        help="Only assets whose WGS84 extent intersects this box, e.g. -10,35,30,60 "
        "(degrees; west > east crosses the antimeridian; touching counts).",
    ),
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
    listed ('spatial-etl status BATCH_ID' shows them). Every filter given must hold; the
    latest version is picked among the versions they keep.
    """
    if since is not None and until is not None and since >= until:
        raise typer.BadParameter(
            f"{when(since)} is not before --until {when(until)} (--since is included, "
            "--until excluded)",
            param_hint="'--since'",
        )
    with connect.ledger_errors():
        ledger = connect.open_ledger(timeout)
        try:
            found = ledger.list_assets(
                intent=intent,
                dataset=dataset,
                project=project,
                since=since,
                until=until,
                bbox=bbox,
                latest_only=not all_versions,
                limit=limit + 1,
            )
        finally:
            ledger.close()
    truncated = len(found) > limit
    found = found[:limit]
    filtered = any(value is not None for value in (intent, dataset, project, since, until, bbox))
    if as_json:
        print_json([asset.model_dump(mode="json", by_alias=True) for asset in found])
    elif not found:
        console.print("No committed assets" + (" match." if filtered else "."))
    elif wide:
        print_wide(_table(found, all_versions))
    else:
        print_records(
            (
                f"[bold]{escape(asset.intent)}/{escape(asset.dataset)}[/] v{asset.version}",
                [
                    ("content", escape(asset_summary(asset))),
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


# ----------------------------------------------------------------------------- show


@app.command("show", cls=Command)
def show_asset(
    asset_id: str = typer.Argument(
        ..., metavar="ASSET_ID", help="The asset id, as 'assets list' and 'status' print it."
    ),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print the ledger document, its links, versions and duplicates as JSON.",
    ),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
    timeout: float = typer.Option(
        connect.DEFAULT_TIMEOUT_S, "--timeout", min=0.1, help="Seconds to wait for MongoDB."
    ),
) -> None:
    """Show one asset version, in any status, with its links and the dataset's versions.

    What it holds, where it came from, how it was made, its metadata objects (STAC item, ISO
    19139 record, quicklook) and the dataset's other committed versions.

    Exits 1 when the ledger has no such asset, 2 when MongoDB cannot be reached.
    """
    with connect.ledger_errors():
        ledger = connect.open_ledger(timeout)
        try:
            asset = ledger.get_asset(asset_id)
            versions: list[AssetDocument] = []
            duplicates: list[AssetDocument] = []
            if asset is not None:
                versions = ledger.dataset_versions(
                    asset.intent, asset.dataset, limit=VERSIONS_SHOWN + 2
                )
                if asset.status == "committed":
                    duplicates = ledger.duplicates_of(asset.asset_id, limit=VERSIONS_SHOWN + 1)
        finally:
            ledger.close()
    if asset is None:
        connect.fail(
            f"unknown asset {asset_id!r}: the ledger has no asset with this id (ids are "
            "24 hexadecimal digits; 'spatial-etl assets list' prints them)"
        )
    shown = _Shown(asset, versions, duplicates)
    if as_json:
        print_json(shown.as_json())
    else:
        shown.print(wide)


class _Shown:
    """One asset with what ``show`` prints around it: versions, duplicates, links."""

    def __init__(
        self, asset: AssetDocument, versions: list[AssetDocument], duplicates: list[AssetDocument]
    ) -> None:
        self.asset = asset
        self.latest = versions[0] if versions else None
        self.is_latest = self.latest is not None and self.latest.asset_id == asset.asset_id
        self.others = [doc for doc in versions if doc.asset_id != asset.asset_id]
        self.duplicates = duplicates

    def links(self) -> dict[str, str | None]:
        """Each sidecar role's ``s3://`` URI, None when this version has none."""
        asset = self.asset
        links: dict[str, str | None] = {}
        for role, _ in _LINKS:
            found = asset.sidecar(role)
            links[role] = f"s3://{asset.bucket}/{found.key}" if found else None
        return links

    def as_json(self) -> dict[str, Any]:
        """The document as stored, then what ``show`` derives from the ledger around it."""
        return {
            "asset": self.asset.model_dump(mode="json", by_alias=True),
            "committed": self.asset.status == "committed",
            "latest": self.is_latest,
            "latest_version": self.latest.version if self.latest else None,
            "links": self.links(),
            "other_versions": [
                {
                    "asset_id": doc.asset_id,
                    "version": doc.version,
                    "committed_at": doc.model_dump(mode="json")["committed_at"],
                    "s3_uri": doc.s3_uri,
                }
                for doc in self.others[:VERSIONS_SHOWN]
            ],
            "duplicates": [
                {
                    "asset_id": doc.asset_id,
                    "run_id": doc.run_id,
                    "batch_id": doc.batch_id,
                    "created_at": doc.model_dump(mode="json")["created_at"],
                }
                for doc in self.duplicates[:VERSIONS_SHOWN]
            ],
        }

    # text

    def print(self, wide: bool) -> None:
        """The record, then its sections; ``wide`` prints each as a table instead."""
        asset = self.asset
        console.print(self._title(), overflow="fold")
        notice = self._notice()
        if notice:
            console.print(notice, overflow="fold", soft_wrap=wide)
        _print_section("", self._facts(), wide)
        _print_inputs(self._inputs(), wide)
        sections: list[tuple[str, list[tuple[str, str]]]] = [
            ("Lineage", [("", user_text(step)) for step in asset.iso19115.lineage.steps]),
            ("Links", self._links()),
            ("Other versions", self._versions()),
        ]
        if self.duplicates:
            sections.append(("Reproduced by", self._duplicates()))
        for title, rows in sections:
            _print_section(title, rows, wide)

    def _title(self) -> str:
        asset = self.asset
        title = f"[bold]{escape(asset.intent)}/{escape(asset.dataset)}[/] v{asset.version}"
        if self.is_latest:
            return f"{title} (latest)"
        if self.latest is not None:
            return f"{title} (latest committed: v{self.latest.version})"
        return f"{title} (no committed version)"

    def _notice(self) -> str | None:
        asset = self.asset
        if asset.status == "committed":
            return None
        why = {
            "pending": "its upload is in progress, or its run died and the reconciler will "
            "commit or fail it; the object may be missing or incomplete",
            "failed": f"its publish failed ({user_text(asset.failure)}); the lake holds no "
            "object for it",
            "duplicate": f"a run reproduced asset {asset.duplicate_of}, whose object it names; "
            "it owns no object",
        }[asset.status]
        return f"[yellow]Not committed[/] ({asset.status}): {why}."

    def _facts(self) -> list[tuple[str, str]]:
        asset = self.asset
        provenance = asset.provenance
        status = styled_status(asset.status)
        if asset.committed_at is not None:
            status += f" {when(asset.committed_at)}"
        rows = [
            ("status", status),
            ("asset id", asset.asset_id),
            ("object", escape(asset.s3_uri)),
            ("format", asset.format),
            ("size", f"{size(asset.size)} ({asset.size:,} bytes)"),
            ("sha256", asset.sha256),
            ("crs", user_text(asset.crs)),
            ("bbox", _bbox(asset.bbox_wgs84)),
            *self._content(),
            ("project", user_text(provenance.project)),
            ("uploader", user_text(provenance.uploader)),
            ("description", user_text(provenance.description)),
            ("run", escape(asset.run_id)),
            ("batch", escape(asset.batch_id)),
            ("plugin", escape(_plugin(asset))),
            ("parameters", escape(json.dumps(asset.parameters, sort_keys=True)) or "-"),
            ("created", when(asset.created_at)),
        ]
        if asset.catalogued_at is not None:
            rows.append(("catalogued", when(asset.catalogued_at)))
        return rows

    def _content(self) -> list[tuple[str, str]]:
        asset = self.asset
        if asset.raster is not None:
            facts = asset.raster
            nodata = facts.nodata_special or (
                "none" if facts.nodata is None else f"{facts.nodata:g}"
            )
            return [
                ("raster", f"{facts.width} x {facts.height} px, {facts.bands} band(s)"),
                ("dtype", escape(facts.dtype)),
                ("nodata", nodata),
            ]
        columns = ", ".join(f"{column.name} ({column.type})" for column in asset.columns)
        rows = "-" if asset.feature_count is None else f"{asset.feature_count:,}"
        return [("rows", rows), ("columns", user_text(columns))]

    def _inputs(self) -> list[Record]:
        return [
            (
                user_text(record.path),
                [
                    ("sha256", record.sha256),
                    ("size", f"{size(record.size)} ({record.size:,} bytes)"),
                ],
            )
            for record in self.asset.inputs
        ]

    def _links(self) -> list[tuple[str, str]]:
        links = self.links()
        if not any(links.values()):
            return [("", "none recorded for this version")]
        return [(label, escape(links[role] or "-")) for role, label in _LINKS]

    def _versions(self) -> list[tuple[str, str]]:
        if not self.others:
            return [("", "none committed")]
        original = self.asset.duplicate_of
        rows = [
            (
                f"v{doc.version}",
                f"{when(doc.committed_at)}  {doc.asset_id}"
                + ("  (the original)" if doc.asset_id == original else ""),
            )
            for doc in self.others[:VERSIONS_SHOWN]
        ]
        if len(self.others) > VERSIONS_SHOWN:
            rows.append(("", "more: spatial-etl assets list --all-versions --dataset ..."))
        return rows

    def _duplicates(self) -> list[tuple[str, str]]:
        rows = [
            (escape(doc.run_id), f"batch {escape(doc.batch_id)}, {when(doc.created_at)}")
            for doc in self.duplicates[:VERSIONS_SHOWN]
        ]
        if len(self.duplicates) > VERSIONS_SHOWN:
            rows.append(("", f"and more (first {VERSIONS_SHOWN} shown)"))
        return rows


def _bbox(box: tuple[float, float, float, float] | None) -> str:
    if box is None:
        return "unknown"
    text = ", ".join(f"{value:g}" for value in box) + " (W, S, E, N)"
    return text + (", crosses the antimeridian" if box[0] > box[2] else "")


def _plugin(asset: AssetDocument) -> str:
    plugin = asset.plugin
    named = " ".join(part for part in (plugin.distribution or plugin.name, plugin.version) if part)
    return named if not plugin.distribution else f"{named} ({plugin.name})"


def _print_section(title: str, rows: list[tuple[str, str]], wide: bool) -> None:
    """A titled list of ``label  value`` rows; one table at its natural width when ``wide``."""
    if title:
        console.print()
    labelled = any(label for label, _ in rows)
    if wide:
        table = Table(
            title=f"[bold]{title}[/]" if title else None, title_justify="left", show_header=False
        )
        if labelled:
            table.add_column(no_wrap=True, style="dim")
        table.add_column(no_wrap=True)
        for label, value in rows:
            table.add_row(*((label, value) if labelled else (value,)))
        print_wide(table)
        return
    if title:
        console.print(f"[bold]{title}[/]")
    if labelled:
        print_fields(rows)
    else:
        print_items(value for _, value in rows)


def _print_inputs(records: list[Record], wide: bool) -> None:
    """One record per input (a path is too long to be a label); one table when ``wide``."""
    console.print()
    if not wide:
        console.print("[bold]Inputs[/]")
        print_records(records)
        return
    table = Table(title="[bold]Inputs[/]", title_justify="left")
    for column in ("Path", "SHA-256", "Size"):
        table.add_column(column, no_wrap=True)
    for path, fields in records:
        facts = dict(fields)
        table.add_row(path, facts["sha256"], facts["size"])
    print_wide(table)
