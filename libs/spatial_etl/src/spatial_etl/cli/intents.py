"""``spatial-etl intents``: what the installed plugins can ingest."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli.output import catalog, console, errors, print_json, warn_failures
from spatial_etl.errors import IntentConflictError, UnknownIntentError
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.steps.kind import StepDeclaration as Step

app = typer.Typer(help="List and inspect registered intents.", no_args_is_help=True)


def describe(registered: RegisteredIntent) -> dict[str, Any]:
    """An intent as JSON: declaration, plugin and parameter schema."""
    intent = registered.intent
    return {
        "name": intent.name,
        "summary": intent.summary,
        "description": intent.description,
        "plugin": registered.plugin.model_dump(mode="json"),
        "accepts": {
            "file_type": intent.accepts.file_type.value,
            "drivers": sorted(intent.accepts.drivers),
            "geometry_kinds": sorted(kind.value for kind in intent.accepts.geometry_kinds),
        },
        "parameters": intent.parameter_schema(),
        "steps": [step.model_dump(mode="json", exclude_none=True) for step in intent.steps],
    }


@app.command("list")
def list_intents(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List every registered intent with its plugin, version and accepted inputs."""
    loaded = catalog()
    if as_json:
        print_json([describe(registered) for registered in loaded.intents])
        return
    warn_failures(loaded)
    table = Table(title="Registered intents")
    table.add_column("Intent", no_wrap=True)
    table.add_column("Plugin", no_wrap=True)
    for column in ("Version", "Accepts", "Summary"):
        table.add_column(column)
    for registered in loaded.intents:
        accepts = registered.intent.accepts
        inputs = f"{accepts.file_type.value}: {', '.join(sorted(accepts.drivers))}"
        if accepts.geometry_kinds:
            inputs += f" ({', '.join(sorted(k.value for k in accepts.geometry_kinds))})"
        table.add_row(
            registered.intent.name,
            registered.plugin.distribution or registered.plugin.name,
            registered.plugin.version or "-",
            escape(inputs),
            escape(registered.intent.summary),
        )
    console.print(table if loaded.intents else "No intents registered: install a plugin.")


@app.command("show")
def show(
    name: str = typer.Argument(..., help="Intent name, as a manifest's `intent` gives it."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show an intent's steps, accepted inputs and parameter schema."""
    loaded = catalog()
    try:
        registered = loaded.get(name)
    except (UnknownIntentError, IntentConflictError) as error:
        errors.print(f"[red]error:[/] {escape(str(error))}")
        raise typer.Exit(1) from None
    if as_json:
        print_json(describe(registered))
        return
    intent = registered.intent
    console.print(f"[bold]{intent.name}[/] — {escape(intent.summary)}")
    console.print(f"plugin: {escape(str(registered.plugin))}")
    if intent.description:
        console.print(escape(intent.description))
    accepts = intent.accepts
    console.print(
        f"\n[bold]Accepts[/] {accepts.file_type.value} files: {', '.join(sorted(accepts.drivers))}"
    )
    if accepts.geometry_kinds:
        console.print(
            f"geometry kinds: {', '.join(sorted(k.value for k in accepts.geometry_kinds))}"
        )
    console.print("\n[bold]Parameters[/] (manifest metadata.parameters)")
    schema = intent.parameter_schema()
    if schema is None:
        console.print("none")
    else:
        console.print(_parameters_table(schema))
    console.print("\n[bold]Steps[/]")
    for number, step in enumerate(intent.steps, start=1):
        console.print(_step_text(number, step))


def _parameters_table(schema: dict[str, Any]) -> Table:
    table = Table()
    for column in ("Name", "Type", "Default", "Description"):
        table.add_column(column)
    required = set(schema.get("required", []))
    for field, spec in schema.get("properties", {}).items():
        kind = (
            spec.get("type")
            or " | ".join(
                str(option.get("type", option.get("$ref", "?")).rsplit("/", 1)[-1])
                for option in spec.get("anyOf", [])
            )
            or str(spec.get("$ref", "?")).rsplit("/", 1)[-1]
        )
        default = "(required)" if field in required else json.dumps(spec.get("default"))
        table.add_row(field, kind, default, escape(spec.get("description", "")))
    return table


def _step_text(number: int, step: Step) -> str:
    condition = ""
    if step.when:
        condition = f" [dim](only when {step.when} is set)[/]"
    if step.unless:
        condition = f" [dim](skipped when {step.unless} is set)[/]"
    head = f"{number}. [bold]{step.name}[/] ({step.kind}){condition}: {escape(step.description)}"
    body = step_kinds().for_step(step).describe(step)
    return f"{head}\n   {escape(body)}"
