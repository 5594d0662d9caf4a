"""Shared output helpers: one console, JSON printing, and loading the plugin catalog."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from spatial_etl.plugins import load_plugins
from spatial_etl.registry import IntentCatalog

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
