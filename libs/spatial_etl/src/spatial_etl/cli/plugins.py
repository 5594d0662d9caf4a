"""``spatial-etl plugins``: which plugins loaded, with versions, and which failed and why."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli.output import (
    WIDE_HELP,
    Record,
    catalog,
    console,
    print_json,
    print_records,
    print_wide,
)
from spatial_etl.plugins.registry import IntentCatalog


def plugins(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
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
    elif wide:
        _print_tables(loaded, by_plugin)
    else:
        _print_records(loaded, by_plugin)
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
    if loaded.plugins:
        print_wide(table)
    else:
        console.print("No plugins loaded.")
    if loaded.failures:
        failed = Table(title="Failed plugins", title_style="red")
        for column in ("Plugin", "Stage", "Reason"):
            failed.add_column(column)
        for failure in loaded.failures:
            failed.add_row(failure.name, failure.stage, escape(failure.reason))
        print_wide(failed)
    for conflict in loaded.conflicts:
        console.print(f"[red]conflict:[/] {escape(conflict.message)}")


def _print_records(loaded: IntentCatalog, by_plugin: dict[str, list[str]]) -> None:
    if not loaded.plugins:
        console.print("No plugins loaded.")
    print_records(
        (
            f"[bold]{escape(plugin.name)}[/] {escape(plugin.version or '')}",
            [
                ("from", escape(plugin.distribution or plugin.module)),
                ("intents", escape(", ".join(by_plugin.get(plugin.name, [])) or "-")),
            ],
        )
        for plugin in loaded.plugins
    )
    failed: list[Record] = [
        (
            f"[red]failed[/] [bold]{escape(failure.name)}[/]",
            [("stage", escape(failure.stage)), ("reason", escape(failure.reason))],
        )
        for failure in loaded.failures
    ]
    if failed:
        console.print()
        print_records(failed)
    for conflict in loaded.conflicts:
        console.print(f"[red]conflict:[/] {escape(conflict.message)}")
