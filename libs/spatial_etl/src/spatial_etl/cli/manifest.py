"""``spatial-etl manifest``: validate manifests offline and print the manifest's JSON Schema."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape

from spatial_etl.cli.help import Command, Group
from spatial_etl.cli.output import catalog, console, print_items, print_json, warn_failures
from spatial_etl.models.manifest import Manifest, parse_json_object
from spatial_etl.models.problems import Problem
from spatial_etl.plugins.registry import IntentCatalog
from spatial_etl.run.validation import ManifestReport, check_manifest, check_manifest_file
from spatial_etl.settings import IntakeSettings

app = typer.Typer(help="Validate manifests and show their schema.", no_args_is_help=True, cls=Group)


@app.command("validate", cls=Command)
def validate(
    files: list[Path] = typer.Argument(
        ...,
        dir_okay=False,
        show_default=False,
        metavar="MANIFEST",
        help="Manifest JSON files; - reads one from standard input.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the reports as JSON."),
) -> None:
    """Check manifests offline: schema, path rules, intent registered, inputs accepted.

    A manifest read from standard input is checked as if named after its own batch id.
    Exits 1 when any manifest is invalid, listing every problem of each.
    """
    missing = [str(path) for path in files if str(path) != STDIN and not path.is_file()]
    if missing:
        raise typer.BadParameter(f"no such file: {', '.join(missing)}", param_hint="FILES")
    loaded = catalog()
    limits = IntakeSettings()
    reports = [
        _check_stdin(loaded, limits)
        if str(path) == STDIN
        else check_manifest_file(
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
            shown = "(standard input)" if str(path) == STDIN else str(path)
            if report.valid:
                plugin = f" by {report.plugin}" if report.plugin else ""
                intent = f"(intent {report.intent}{plugin})"
                console.print(f"[green]valid[/]   {escape(shown)} {escape(intent)}")
                continue
            console.print(f"[red]invalid[/] {escape(shown)}: {len(report.problems)} problem(s)")
            print_items(
                f"{escape(problem.loc or '(document)')}: {escape(problem.message)}"
                for problem in report.problems
            )
            if report.known_intents is not None:
                console.print(f"  registered intents: {', '.join(report.known_intents) or 'none'}")
    if not all(report.valid for report in reports):
        raise typer.Exit(1)


STDIN = "-"
"""The file name that stands for standard input."""


def _check_stdin(loaded: IntentCatalog, limits: IntakeSettings) -> ManifestReport:
    """Check the manifest on standard input, named ``<batch_id>.json`` after its own batch id.

    A piped manifest has no file name to check the batch id against; the sensor will check it
    against the key the manifest is uploaded to.
    """
    data = sys.stdin.buffer.read(limits.manifest_max_bytes + 1)
    if len(data) > limits.manifest_max_bytes:
        return ManifestReport(
            source=STDIN,
            valid=False,
            problems=[
                Problem(
                    loc="",
                    code="too_large",
                    message=f"the manifest is larger than the {limits.manifest_max_bytes} "
                    "bytes allowed (SPATIAL_ETL_MANIFEST_MAX_BYTES)",
                )
            ],
        )
    raw, _ = parse_json_object(data)
    batch_id = raw.get("batch_id") if raw is not None else None
    source = f"{batch_id}.json" if isinstance(batch_id, str) else "stdin.json"
    return check_manifest(data, source=source, catalog=loaded, max_files=limits.manifest_max_files)


@app.command("schema", cls=Command)
def schema() -> None:
    """Print the manifest's JSON Schema (draft 2020-12)."""
    document = Manifest.model_json_schema()
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print_json(document)
