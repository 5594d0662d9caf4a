"""``spatial-etl manifest``: validate manifests offline and print the manifest's JSON Schema."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from spatial_etl.cli.output import catalog, console, print_json, warn_failures
from spatial_etl.models.manifest import Manifest
from spatial_etl.run.validation import check_manifest_file
from spatial_etl.settings import IntakeSettings

app = typer.Typer(help="Validate manifests and show their schema.", no_args_is_help=True)


@app.command("validate")
def validate(
    files: list[Path] = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="Manifest JSON files."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the reports as JSON."),
) -> None:
    """Check manifests offline: schema, path rules, intent registered, inputs accepted.

    Exits 1 when any manifest is invalid, listing every problem of each.
    """
    loaded = catalog()
    limits = IntakeSettings()
    reports = [
        check_manifest_file(
            path,
            catalog=loaded,
            max_bytes=limits.manifest_max_bytes,
            max_files=limits.manifest_max_files,
        )
        for path in files
    ]
    if as_json:
        print_json([report.model_dump(mode="json") for report in reports])
    else:
        warn_failures(loaded)
        for path, report in zip(files, reports, strict=True):
            if report.valid:
                plugin = f" by {report.plugin}" if report.plugin else ""
                intent = f"(intent {report.intent}{plugin})"
                console.print(f"[green]valid[/]   {escape(str(path))} {escape(intent)}")
                continue
            console.print(f"[red]invalid[/] {escape(str(path))}: {len(report.problems)} problem(s)")
            for problem in report.problems:
                console.print(
                    f"  - {escape(problem.loc or '(document)')}: {escape(problem.message)}"
                )
            if report.known_intents is not None:
                console.print(f"  registered intents: {', '.join(report.known_intents) or 'none'}")
    if not all(report.valid for report in reports):
        raise typer.Exit(1)


@app.command("schema")
def schema() -> None:
    """Print the manifest's JSON Schema (draft 2020-12)."""
    document = Manifest.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print_json(document)
