"""``spatial-etl intents``: what the installed plugins can ingest."""

from __future__ import annotations

import json
import textwrap
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from spatial_etl.cli.help import Command, Group
from spatial_etl.cli.output import (
    WIDE_HELP,
    Record,
    catalog,
    console,
    errors,
    print_json,
    print_records,
    print_wide,
    warn_failures,
)
from spatial_etl.errors import IntentConflictError, UnknownIntentError
from spatial_etl.models.placeholders import INPUT_FACTS
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.steps.kind import StepDeclaration as Step

app = typer.Typer(help="List and inspect registered intents.", no_args_is_help=True, cls=Group)


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
            "layers": intent.accepts.layers,
        },
        "inputs": intent.inputs,
        "parameters": intent.parameter_schema(),
        "steps": [step.model_dump(mode="json", exclude_none=True) for step in intent.steps],
    }


@app.command("list", cls=Command)
def list_intents(
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """List every registered intent with its plugin, version and accepted inputs."""
    loaded = catalog()
    if as_json:
        print_json([describe(registered) for registered in loaded.intents])
        return
    warn_failures(loaded)
    if not loaded.intents:
        console.print("No intents registered: install a plugin.")
    elif wide:
        print_wide(_intents_table(loaded.intents))
    else:
        print_records(
            (
                f"[bold]{escape(registered.intent.name)}[/]",
                [
                    ("plugin", escape(_plugin_label(registered))),
                    ("accepts", escape(_accepts(registered))),
                    ("summary", escape(registered.intent.summary)),
                ],
            )
            for registered in loaded.intents
        )


def _plugin_label(registered: RegisteredIntent) -> str:
    plugin = registered.plugin
    return f"{plugin.distribution or plugin.name} {plugin.version or ''}".strip()


def _accepts(registered: RegisteredIntent) -> str:
    accepts = registered.intent.accepts
    inputs = f"{accepts.file_type.value}: {', '.join(sorted(accepts.drivers))}"
    if accepts.geometry_kinds:
        inputs += f" ({', '.join(sorted(k.value for k in accepts.geometry_kinds))})"
    return inputs


def _intents_table(intents: list[RegisteredIntent]) -> Table:
    table = Table(title="Registered intents", title_justify="left")
    for column in ("Intent", "Plugin", "Version", "Accepts", "Summary"):
        table.add_column(column, no_wrap=True)
    for registered in intents:
        table.add_row(
            registered.intent.name,
            registered.plugin.distribution or registered.plugin.name,
            registered.plugin.version or "-",
            escape(_accepts(registered)),
            escape(registered.intent.summary),
        )
    return table


@app.command("show", cls=Command)
def show(
    name: str = typer.Argument(..., help="Intent name, as a manifest's 'intent' gives it."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show an intent's steps, accepted inputs and parameters."""
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
    console.print(f"[bold]{intent.name}[/]")
    console.print(_indented(intent.summary, 2), soft_wrap=True, highlight=False)
    console.print(f"plugin: {escape(str(registered.plugin))}")
    if intent.description:
        console.print(_indented(intent.description, 0), soft_wrap=True, highlight=False)
    accepts = intent.accepts
    console.print(
        f"\n[bold]Accepts[/] {accepts.file_type.value} files: {', '.join(sorted(accepts.drivers))}"
    )
    if accepts.geometry_kinds:
        console.print(
            f"geometry kinds: {', '.join(sorted(k.value for k in accepts.geometry_kinds))}"
        )
    if accepts.layers == "each":
        console.print("every layer of a file is its own dataset, unless 'layer' names one")
    if intent.takes_batch:
        console.print("all files of a batch are one product (one plan over every file)")
    console.print("\n[bold]Parameters[/] (manifest metadata.parameters)")
    schema = intent.parameter_schema()
    if schema is None:
        console.print("none")
    else:
        print_records(_parameter_records(schema))
    console.print("\n[bold]Steps[/]")
    for number, step in enumerate(intent.steps, start=1):
        head, description, command = _step_text(number, step)
        console.print(head)
        # description and command wrap under themselves, indented, not back at the margin
        for text in (description, command):
            console.print(_indented(text), soft_wrap=True, highlight=False)


def _parameter_records(schema: dict[str, Any]) -> list[Record]:
    """A record per parameter: its type, default or requirement, choices and description."""
    required = set(schema.get("required", []))
    definitions: dict[str, Any] = schema.get("$defs", {})
    records: list[Record] = []
    for field, spec in schema.get("properties", {}).items():
        lines = [("type", escape(_type_name(spec)))]
        choices = _choices(spec, definitions)
        if choices:
            lines.append(("choices", escape(", ".join(choices))))
        default = "(required)" if field in required else json.dumps(spec.get("default"))
        lines.append(("default", escape(default)))
        if spec.get("description"):
            lines.append(("about", escape(spec["description"])))
        records.append((f"[bold]{escape(field)}[/]", lines))
    return records


def _type_name(spec: dict[str, Any]) -> str:
    return str(
        spec.get("type")
        or " | ".join(
            str(option.get("type", option.get("$ref", "?")).rsplit("/", 1)[-1])
            for option in spec.get("anyOf", [])
        )
        or str(spec.get("$ref", "?")).rsplit("/", 1)[-1]
    )


def _choices(spec: dict[str, Any], definitions: dict[str, Any]) -> list[str]:
    """The values an enum parameter takes, wherever the schema puts them (inline or $defs)."""
    found: list[str] = []
    for option in [spec, *spec.get("anyOf", [])]:
        target = option
        ref = option.get("$ref")
        if isinstance(ref, str):
            target = definitions.get(ref.rsplit("/", 1)[-1], {})
        values = target.get("enum", [target["const"]] if "const" in target else [])
        found += [str(value) for value in values]
    return found


def _step_text(number: int, step: Step) -> tuple[str, str, str]:
    """A step's heading (markup), its description and its command (plain text)."""
    condition = ""
    if step.when:
        condition = f" [dim](only when {_holds(step.when)})[/]"
    if step.unless:
        condition = f" [dim](skipped when {_holds(step.unless)})[/]"
    head = f"{number}. [bold]{step.name}[/] ({step.kind}){condition}"
    return head, step.description, step_kinds().for_step(step).describe(step)


def _holds(name: str) -> str:
    """A condition as text: a fact of the input holds, a parameter is set."""
    return f"{name} holds" if name in INPUT_FACTS else f"{name} is set"


def _indented(text: str, indent: int = 3) -> str:
    """``text`` wrapped to the terminal with every line indented, markup escaped."""
    width = max(console.width - indent, 20)
    prefix = " " * indent
    lines = textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=True)
    return escape("\n".join(prefix + line for line in lines))
