"""``spatial-etl plugins``: which plugins loaded, with versions, and which failed and why."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli.output import catalog, console, print_json
from spatial_etl.plugins.registry import IntentCatalog


def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 when a plugin failed or two plugins claim one intent."
    ),
) -> None:
    """List loaded plugins with their versions, and the ones that failed with the reason."""
    loaded = catalog()
    by_plugin: dict[str, list[str]] = {}
    for registered in loaded.intents:
        by_plugin.setdefault(registered.plugin.name, []).append(registered.intent.name)
    if as_json:
        print_json(
            {
                "loaded": [
                    {**p.model_dump(mode="json"), "intents": by_plugin.get(p.name, [])}
                    for p in loaded.plugins
                ],
                "failed": [f.model_dump(mode="json") for f in loaded.failures],
                "conflicts": [
                    {
                        "intent": c.intent,
                        "plugins": [p.name for p in c.plugins],
                        "message": c.message,
                    }
                    for c in loaded.conflicts
                ],
            }
        )
    else:
        _print_tables(loaded, by_plugin)
    if strict and (loaded.failures or loaded.conflicts):
        raise typer.Exit(1)


def _print_tables(loaded: IntentCatalog, by_plugin: dict[str, list[str]]) -> None:
    table = Table(title="Loaded plugins")
    for column in ("Plugin", "Distribution", "Version", "Intents"):
        table.add_column(column)
    for plugin in loaded.plugins:
        intents = ", ".join(by_plugin.get(plugin.name, [])) or "-"
        table.add_row(
            plugin.name, plugin.distribution or plugin.module, plugin.version or "-", intents
        )
    console.print(table if loaded.plugins else "No plugins loaded.")
    if loaded.failures:
        failed = Table(title="Failed plugins", title_style="red")
        for column in ("Plugin", "Stage", "Reason"):
            failed.add_column(column)
        for failure in loaded.failures:
            failed.add_row(failure.name, failure.stage, escape(failure.reason))
        console.print(failed)
    for conflict in loaded.conflicts:
        console.print(f"[red]conflict:[/] {escape(conflict.message)}")
