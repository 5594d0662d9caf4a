"""Shared output helpers: one console, JSON printing, the plugin catalog, human formats.

Listings have two layouts. By default a record per item (a title line, then ``label  value``
lines wrapped under the value), which fits any terminal down to 80 columns without cutting a
word; ``--wide`` prints one table, as wide as its content, for wide terminals and for
copying into a spreadsheet.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.measure import Measurement
from rich.padding import Padding
from rich.table import Table

from spatial_etl.plugins.loading import load_plugins
from spatial_etl.plugins.registry import IntentCatalog

if TYPE_CHECKING:
    from spatial_etl.models.ledger import AssetDocument

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


WIDE_HELP = "One table per listing, as wide as its content, instead of records."
"""Help of every command's ``--wide`` flag."""

Record = tuple[str, Sequence[tuple[str, str]]]
"""A title (rich markup) and its ``(label, value)`` lines (values are rich markup)."""


def print_items(items: Iterable[str], *, target: Console | None = None) -> None:
    """Print ``  - item`` lines whose continuation lines wrap under the item, not the dash."""
    grid = Table.grid()
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    for item in items:
        grid.add_row("  - ", item)
    print_trimmed(grid, target or console)


def print_trimmed(renderable: RenderableType, out: Console | None = None) -> None:
    """Print without the trailing spaces a grid pads every cell with."""
    out = out or console
    with out.capture() as captured:
        out.print(renderable)
    out.file.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))
    out.file.flush()


def print_records(records: Iterable[Record], *, target: Console | None = None) -> None:
    """Print each record as a title line and indented ``label  value`` lines.

    Values wrap under themselves (long words fold rather than being cut), so nothing is lost
    at any width; a record is separated from the next by a blank line.
    """
    out = target or console
    for number, (title, fields) in enumerate(records):
        if number:
            out.print()
        out.print(title, overflow="fold")
        print_fields(fields, target=out)


def print_fields(fields: Sequence[tuple[str, str]], *, target: Console | None = None) -> None:
    """Print indented ``label  value`` lines, values wrapping under themselves (a record's body)."""
    if not fields:
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in fields:
        grid.add_row(label, value)
    print_trimmed(Padding(grid, (0, 0, 0, 2), expand=False), target or console)


def print_wide(renderable: RenderableType, *, target: Console | None = None) -> None:
    """Print a table at its natural width, even beyond the terminal's (``--wide``)."""
    out = target or console
    wide = Console(
        file=out.file,
        highlight=False,
        width=10_000,
        force_terminal=out.is_terminal,
        no_color=out.no_color,
    )
    needed = Measurement.get(wide, wide.options, renderable).maximum
    wide.width = max(out.width, needed)
    wide.print(renderable)


def print_json(value: Any) -> None:
    """Print machine-readable output: plain JSON on stdout, no colour or wrapping."""
    typer.echo(json.dumps(value, indent=2, sort_keys=False, default=str))


def catalog() -> IntentCatalog:
    """Load the installed plugins, honouring SPATIAL_ETL_PLUGINS / SPATIAL_ETL_BLOCK_PLUGINS."""
    return load_plugins()


def warn_failures(loaded: IntentCatalog) -> None:
    """Tell, on stderr, that some plugins did not load (details: ``spatial-etl plugins``)."""
    broken = [failure.name for failure in loaded.failures]
    broken += [f"conflict on {conflict.intent}" for conflict in loaded.conflicts]
    if broken:
        errors.print(
            f"[yellow]warning:[/] some plugins did not load ({', '.join(broken)}); "
            "see 'spatial-etl plugins'"
        )


_STATUS_STYLES = {
    "succeeded": "green",
    "committed": "green",
    "failed": "red",
    "rejected": "red",
    "running": "yellow",
    "pending": "yellow",
    "received": "cyan",
    "duplicate": "cyan",
}


def styled_status(status: str) -> str:
    """A ledger status as rich markup, coloured by outcome."""
    style = _STATUS_STYLES.get(status, "default")
    return f"[{style}]{status}[/]"


def when(value: datetime | None) -> str:
    """A ledger instant for people: ``2025-03-01 12:00:00 UTC``; ``-`` for None."""
    if value is None:
        return "-"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def seconds(value: float) -> str:
    """A duration for people: ``4.2 s``, ``3 min 05 s``, ``2 h 07 min``."""
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def size(value: int) -> str:
    """A byte count for people: ``512 B``, ``11.8 MiB``."""
    if value < 1024:
        return f"{value} B"
    amount = float(value)
    for unit in ("KiB", "MiB", "GiB"):
        amount /= 1024
        if amount < 1024:
            return f"{amount:.1f} {unit}"
    return f"{amount / 1024:.1f} TiB"


def asset_content(asset: AssetDocument) -> str:
    """What an asset holds: ``2,148 features`` or ``8000 x 8000 x 3 Float32``."""
    if asset.raster is not None:
        facts = asset.raster
        return f"{facts.width} x {facts.height} x {facts.bands} {facts.dtype}"
    if asset.feature_count is not None:
        return f"{asset.feature_count:,} features"
    return "-"


def asset_summary(asset: AssetDocument) -> str:
    """Format, content and size of an asset on one line: ``GeoParquet, 2,148 features, 1 MiB``."""
    return f"{asset.format}, {asset_content(asset)}, {size(asset.size)}"


_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Control characters but the newline, and the bidirectional overrides that reorder a line."""


def user_text(value: str | None, empty: str = "-") -> str:
    """What a user wrote (a description, a project), as markup that prints it literally.

    Markup is escaped (``[bold]`` prints as typed) and control characters but the newline are
    shown as Python writes them (a backslash, then x or u and hex digits), so no text can
    style, move, clear or reorder the terminal; ``empty`` stands for None or "".
    """
    if not value:
        return empty
    visible = _CONTROL.sub(lambda found: repr(found.group())[1:-1], value)
    return escape(visible)
