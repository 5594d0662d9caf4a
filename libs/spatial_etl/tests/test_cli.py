"""The spatial-etl command line, through typer's runner and once through the console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from spatial_etl.cli import app
from typer.testing import CliRunner

runner = CliRunner()

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
    "metadata": {
        "project": "ALPHA",
        "description": "a scene",
        "parameters": {"target_crs": "EPSG:3857"},
    },
}


def _write(tmp_path: Path, name: str, document: Any) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document) if not isinstance(document, str) else document)
    return path


def test_intents_list_json_shows_both_plugins() -> None:
    result = runner.invoke(app, ["intents", "list", "--json"])
    assert result.exit_code == 0, result.output
    listed = {item["name"]: item for item in json.loads(result.stdout)}
    raster = listed["ingest_satellite_raster"]
    assert raster["plugin"]["distribution"] == "spatial-etl-satellite-raster"
    assert raster["plugin"]["version"] == "0.1.0"
    assert raster["accepts"]["file_type"] == "raster"
    assert "JP2OpenJPEG" in raster["accepts"]["drivers"]
    assert set(raster["parameters"]["properties"]) == {
        "target_crs",
        "resampling",
        "overview_resampling",
    }
    vector = listed["ingest_vector_boundary"]
    assert vector["accepts"]["geometry_kinds"] == ["polygon"]
    assert [s["kind"] for s in vector["steps"]] == ["gdal", "sql_check", "rewrite", "export"]


def test_intents_list_table_names_intents_and_plugins() -> None:
    result = runner.invoke(app, ["intents", "list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "ingest_vector_boundary" in result.stdout
    assert "spatial-etl-satellite-raster" in result.stdout


def test_intents_show_prints_steps_inputs_and_parameters() -> None:
    result = runner.invoke(
        app, ["intents", "show", "ingest_satellite_raster"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0
    out = result.stdout
    assert "gdal_translate -of VRT -a_srs {crs} {src} {dst}" in out
    assert "only when target_crs is set" in out
    assert "Accepts raster files: COG, GTiff, JP2ECW, JP2KAK, JP2OpenJPEG" in out
    assert "overview_resampling" in out


def test_intents_show_json_matches_the_declaration() -> None:
    from spatial_etl_vector_boundary import INTENT

    result = runner.invoke(app, ["intents", "show", "ingest_vector_boundary", "--json"])
    shown = json.loads(result.stdout)
    assert shown["steps"][2]["using"] == INTENT.steps[2].using  # type: ignore[union-attr]
    assert shown["parameters"]["properties"]["layer"]["description"]


def test_intents_show_unknown_exits_1_listing_the_known() -> None:
    result = runner.invoke(app, ["intents", "show", "ingest_lidar"])
    assert result.exit_code == 1
    assert "unknown intent 'ingest_lidar'" in result.stderr
    assert "ingest_satellite_raster, ingest_vector_boundary" in result.stderr


def test_plugins_json_lists_loaded_and_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIAL_ETL_PLUGINS", "vector_boundary,ghost")
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert [(p["name"], p["version"], p["intents"]) for p in report["loaded"]] == [
        ("vector_boundary", "0.1.0", ["ingest_vector_boundary"])
    ]
    assert report["failed"][0]["name"] == "ghost"
    assert report["failed"][0]["stage"] == "missing"


def test_plugins_strict_exits_1_on_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(app, ["plugins", "--strict"]).exit_code == 0
    monkeypatch.setenv("SPATIAL_ETL_PLUGINS", "satellite_raster,ghost")
    result = runner.invoke(app, ["plugins", "--strict", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["failed"][0]["name"] == "ghost"


def test_plugins_table_shows_failures_with_reasons(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIAL_ETL_PLUGINS", "satellite_raster,ghost")
    result = runner.invoke(app, ["plugins"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "satellite_raster" in result.stdout
    assert "failed ghost" in result.stdout
    assert "reason  listed in SPATIAL_ETL_PLUGINS but no installed plugin has this name" in (
        result.stdout
    )
    wide = runner.invoke(app, ["plugins", "--wide"], env={"COLUMNS": "200"})
    assert "Failed plugins" in wide.stdout
    assert "no installed plugin has this name" in wide.stdout


def test_manifest_validate_accepts_a_valid_manifest(tmp_path: Path) -> None:
    path = _write(tmp_path, "batch_001.json", VALID)
    result = runner.invoke(app, ["manifest", "validate", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stdout
    assert "valid" in result.stdout
    assert "spatial-etl-satellite-raster" in result.stdout


def test_manifest_validate_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(VALID))
    bad["files"][0]["path"] = "s3://data-lake/batch_001/scene.tif"
    bad["files"][0]["format"] = "GPKG"
    bad["metadata"]["parameters"] = {"target_crs": "EPSG:0", "colour": "red"}
    good = _write(tmp_path, "batch_001.json", VALID)
    path = _write(tmp_path, "batch_002.json", bad)
    result = runner.invoke(app, ["manifest", "validate", str(good), str(path), "--json"])
    assert result.exit_code == 1
    reports = json.loads(result.stdout)
    assert [r["valid"] for r in reports] == [True, False]
    problems = {p["loc"]: p for p in reports[1]["problems"]}
    assert "batch_id" in problems  # batch_001 inside batch_002.json
    assert "bucket 'data-lake' is not allowed" in problems["files[0].path"]["message"]
    assert "metadata.parameters.target_crs" in problems
    assert problems["metadata.parameters.colour"]["code"] == "extra_forbidden"


def test_manifest_validate_unknown_intent_lists_registered(tmp_path: Path) -> None:
    bad = dict(VALID, intent="ingest_lidar")
    path = _write(tmp_path, "batch_001.json", bad)
    result = runner.invoke(app, ["manifest", "validate", str(path)], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "unknown intent 'ingest_lidar'" in result.stdout
    assert (
        "registered intents: ingest_raster_mosaic, ingest_satellite_raster, "
        "ingest_vector_boundary, ingest_vector_features"
    ) in result.stdout


def test_manifest_validate_reports_invalid_json(tmp_path: Path) -> None:
    path = _write(tmp_path, "batch_001.json", '{"batch_id": ')
    result = runner.invoke(app, ["manifest", "validate", str(path), "--json"])
    assert result.exit_code == 1
    [report] = json.loads(result.stdout)
    assert report["problems"][0]["code"] == "invalid_json"


def test_manifest_validate_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["manifest", "validate", str(tmp_path / "nope.json")])
    assert result.exit_code == 2


def test_manifest_schema_is_the_models_json_schema() -> None:
    result = runner.invoke(app, ["manifest", "schema"])
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["batch_id", "uploader", "intent", "files", "metadata"]
    assert schema["additionalProperties"] is False


def test_console_script_is_installed_and_runs() -> None:
    exe = shutil.which("spatial-etl") or str(Path(__file__).parents[3] / ".venv/bin/spatial-etl")
    done = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "spatial-etl 0.1.0"
    done = subprocess.run(
        [exe, "intents", "list", "--json"], capture_output=True, text=True, check=True
    )
    assert {i["name"] for i in json.loads(done.stdout)} == {
        "ingest_raster_mosaic",
        "ingest_satellite_raster",
        "ingest_vector_boundary",
        "ingest_vector_features",
    }


def test_extension_command_groups_load_and_a_broken_one_is_reported(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from importlib.metadata import EntryPoint

    from spatial_etl import cli

    (tmp_path / "greeting_commands.py").write_text(
        "import typer\n"
        "app = typer.Typer()\n"
        "@app.command()\n"
        "def hello() -> None:\n"
        "    typer.echo('hello from an extension')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        EntryPoint(name="broken", value="no_such_module_xyz:app", group=cli.COMMANDS_GROUP),
        EntryPoint(name="greeting", value="greeting_commands:app", group=cli.COMMANDS_GROUP),
    ]
    monkeypatch.setattr(cli, "entry_points", lambda group: points)
    cli._extensions.cache_clear()
    try:
        result = runner.invoke(cli.app, ["greeting", "hello"])
        assert result.exit_code == 0, result.output
        assert "hello from an extension" in result.stdout
        broken = runner.invoke(cli.app, ["broken"])
        assert broken.exit_code == 2  # no such command: the CLI itself still works
        assert "command group 'broken' did not load" in broken.stderr
        listed = runner.invoke(cli.app, ["--help"], env={"COLUMNS": "200"})
        assert "greeting" in listed.stdout
    finally:
        cli._extensions.cache_clear()


def test_extensions_load_only_when_their_command_runs() -> None:
    code = (
        "import sys\n"
        "from spatial_etl.cli import main\n"
        "sys.argv = ['spatial-etl', 'intents', 'list', '--json']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in sys.modules if m.startswith(('spatial_etl_', 'psycopg2'))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = done.stdout.strip().splitlines()[-1]
    assert "spatial_etl_dagster" not in loaded  # the local group, never asked for
    assert "spatial_etl_web" not in loaded
    assert "psycopg2" not in loaded  # no step ran: no database driver
    assert "spatial_etl_vector_boundary" in loaded  # the plugins were, for the listing


def test_the_dagster_service_adds_the_local_command() -> None:
    exe = shutil.which("spatial-etl") or str(Path(__file__).parents[3] / ".venv/bin/spatial-etl")
    done = subprocess.run([exe, "local", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "run" in done.stdout


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
        (b'{"batch_id": NaN}', "invalid_json"),
        (b'{"uploader": "J\xfcrgen"}', "invalid_json"),
        (b"[1, 2]", "not_an_object"),
        (b'{"pad": "' + b"x" * (1 << 20) + b'"}', "too_large"),
    ],
)
def test_manifest_validate_never_crashes_on_a_poison_manifest(
    tmp_path: Path, body: bytes, code: str
) -> None:
    path = tmp_path / "poison.json"
    path.write_bytes(body)
    result = runner.invoke(app, ["manifest", "validate", "--json", str(path)])
    assert result.exit_code == 1, result.output
    [report] = json.loads(result.stdout)
    assert [problem["code"] for problem in report["problems"]] == [code]
