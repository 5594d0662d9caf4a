"""The command line in an 80-column terminal: help, listings, standard input, suggestions.

Everything runs through typer's runner with ``COLUMNS=80``, as a user's terminal would set it.
The ``local`` group of the Dagster service is walked too: it is built with the same classes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
import typer
from spatial_etl.cli import app
from spatial_etl_dagster.local.cli import app as local_app
from typer.testing import CliRunner

runner = CliRunner()
NARROW = {"COLUMNS": "80"}

VALID = {
    "batch_id": "batch_001",
    "uploader": "alice",
    "intent": "ingest_satellite_raster",
    "files": [
        {
            "path": "s3://landing-zone/batch_001/scene.tif",
            "type": "raster",
            "format": "GTiff",
            "crs": "EPSG:32633",
        }
    ],
    "metadata": {"project": "ALPHA", "description": "a scene", "parameters": {}},
}


def _paths(command: Any, path: list[str]) -> Iterator[list[str]]:
    yield path
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _paths(sub, [*path, name])


COMMANDS = [(app, path) for path in _paths(typer.main.get_command(app), [])] + [
    (local_app, path) for path in _paths(typer.main.get_command(local_app), [])
]


def _fits(text: str) -> None:
    assert text.strip()
    too_long = [line for line in text.splitlines() if len(line) > 80]
    assert not too_long, too_long
    assert "…" not in text, text


@pytest.mark.parametrize(
    ("target", "path"), COMMANDS, ids=[" ".join(path) or "(root)" for _, path in COMMANDS]
)
def test_every_help_reads_well_at_80_columns(target: typer.Typer, path: list[str]) -> None:
    result = runner.invoke(target, [*path, "--help"], env=NARROW)
    assert result.exit_code == 0, result.output
    text = result.stdout
    _fits(text)
    for internal in (":meth:", ":class:", ":func:", "``", "<bool>", "seed"):
        assert internal not in text, (internal, text)
    # reflowed prose: a line is broken only when the next word would not fit on it (a
    # docstring's own line breaks would leave short lines followed by more of the paragraph)
    prose = [line.rstrip() for line in text.splitlines() if not line.startswith(("│", "╭", "╰"))]
    for line, following in itertools.pairwise(prose):
        if line.strip() and following.strip() and not following.lstrip().startswith("-"):
            assert len(line) + 1 + len(following.split()[0]) > 78, (line, following)


def test_flags_are_shown_as_flags_and_required_options_marked() -> None:
    text = runner.invoke(app, ["upload", "--help"], env=NARROW).stdout
    flags = {line.split()[1] for line in text.splitlines() if line.startswith("│    --")}
    for flag in ("--replace", "--dry-run", "--json", "--help"):
        line = next(line for line in text.splitlines() if f" {flag} " in line)
        assert flag in flags
        assert "<" not in line, line  # no type after a flag
    required = [line for line in text.splitlines() if line.startswith("│ *  --")]
    assert {line.split()[2] for line in required} == {"--intent", "--batch-id", "--project"}


@pytest.mark.parametrize("command", [["intents", "list"], ["plugins"]])
def test_listings_fit_80_columns_without_cutting(command: list[str]) -> None:
    result = runner.invoke(app, command, env=NARROW)
    assert result.exit_code == 0, result.output
    _fits(result.stdout)
    joined = " ".join(line.strip() for line in result.stdout.splitlines())
    assert "spatial-etl-satellite-raster" in joined
    assert "ingest_vector_boundary" in joined


def test_intents_list_records_name_version_and_inputs() -> None:
    out = runner.invoke(app, ["intents", "list"], env=NARROW).stdout
    assert "ingest_vector_boundary\n  plugin   spatial-etl-vector-boundary 0.1.0\n" in out
    assert "  accepts  raster: COG, GTiff, JP2ECW, JP2KAK, JP2OpenJPEG\n" in out
    wide = runner.invoke(app, ["intents", "list", "--wide"], env=NARROW).stdout
    row = next(line for line in wide.splitlines() if "ingest_vector_boundary" in line)
    assert "spatial-etl-vector-boundary" in row and "0.1.0" in row and "(polygon)" in row
    assert "…" not in wide


def test_intents_show_lists_the_choices_of_enum_parameters() -> None:
    result = runner.invoke(app, ["intents", "show", "ingest_satellite_raster"], env=NARROW)
    assert result.exit_code == 0
    _fits(result.stdout)
    record = result.stdout.split("\nresampling\n", 1)[1].split("\n\n", 1)[0]
    assert "choices  nearest, bilinear, cubic, cubicspline, lanczos, average, mode" in record
    assert 'default  "nearest"' in record


def test_manifest_validate_reads_standard_input() -> None:
    valid = runner.invoke(app, ["manifest", "validate", "-"], input=json.dumps(VALID))
    assert valid.exit_code == 0, valid.output
    assert "valid   (standard input) (intent ingest_satellite_raster" in valid.stdout
    broken = {**VALID, "uploader": ""}
    invalid = runner.invoke(app, ["manifest", "validate", "-", "--json"], input=json.dumps(broken))
    assert invalid.exit_code == 1
    [report] = json.loads(invalid.stdout)
    assert [problem["loc"] for problem in report["problems"]] == ["uploader"]


def test_a_mistyped_parameter_is_answered_with_the_closest_name() -> None:
    typo = {**VALID, "metadata": {**VALID["metadata"], "parameters": {"target_cr": "EPSG:3857"}}}
    result = runner.invoke(app, ["manifest", "validate", "-"], input=json.dumps(typo), env=NARROW)
    assert result.exit_code == 1
    _fits(result.stdout)
    joined = " ".join(line.strip() for line in result.stdout.splitlines())
    assert (
        "- metadata.parameters.target_cr: unknown parameter 'target_cr'; did you mean "
        "'target_crs'?" in joined
    )


def test_upload_problems_name_the_options(tmp_path: Any) -> None:
    (tmp_path / "README.txt").write_text("x")
    (tmp_path / "a.gpkg").write_text("x")
    args = ["upload", str(tmp_path), "--intent", "ingest_vector_boundary", "--batch-id", "b1"]
    result = runner.invoke(app, [*args, "--project", "P", "--param", "layr=x"], env=NARROW)
    assert result.exit_code == 1
    errors = " ".join(line.strip() for line in result.stderr.splitlines())
    assert "crs (--crs): pass the files' CRS" in errors or "(pass --crs)" in errors
    assert "README.txt: extension '.txt' is not a known data file" in errors
    assert "--exclude PATTERN" in errors and "--format-override PATTERN=DRIVER" in errors


def test_upload_dry_run_fits_80_columns_with_deep_paths(tmp_path: Any) -> None:
    deep = "regions/north/districts_of_the_northern_province_2026_revision_final"
    directory = tmp_path / "batch"
    (directory / deep).mkdir(parents=True)
    (directory / deep / "boundaries_with_a_rather_long_name.gpkg").write_bytes(b"x" * 10)
    args = ["upload", str(directory), "--intent", "ingest_vector_boundary", "--batch-id", "b1"]
    result = runner.invoke(
        app, [*args, "--project", "P", "--crs", "EPSG:4326", "--dry-run"], env=NARROW
    )
    assert result.exit_code == 0, result.output
    plan = result.stdout.split("Then, last, the manifest")[0]  # then the manifest's exact bytes
    _fits(plan)
    joined = "".join(line.strip() for line in plan.splitlines())
    assert f"{deep}/boundaries_with_a_rather_long_name.gpkg" in joined
    assert "vector GPKG" in result.stdout
