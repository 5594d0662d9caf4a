"""Shared output helpers: one console, JSON printing, the plugin catalog, human formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from spatial_etl.plugins.loading import load_plugins
from spatial_etl.plugins.registry import IntentCatalog

if TYPE_CHECKING:
    from spatial_etl.models.ledger import AssetDocument

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


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
