"""The commands that read the deployed ledger: ``ledger init``, ``status``, ``assets``.

No MongoDB runs here: the commands get a mongomock ledger through their seam,
``spatial_etl.cli.connect.open_ledger``, seeded through the ``Ledger``'s own writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import mongomock
import pytest
from ledger_documents import catalogued
from spatial_etl.backends.ledger import (
    COLLECTIONS,
    Ledger,
    collection_commands,
    ensure_indexes,
    index_commands,
)
from spatial_etl.cli import app, connect
from spatial_etl.models import Problem
from spatial_etl.models.ledger import (
    AssetDocument,
    BatchDocument,
    InputRecord,
    PluginRecord,
    RasterFacts,
    RunDocument,
    RunError,
    new_asset_id,
)
from typer.testing import CliRunner

runner = CliRunner()
WIDE = {"COLUMNS": "250"}

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SHA_IN = "a" * 64
SIDES = ("west", "south", "east", "north")
PLUGIN = PluginRecord(
    name="vector_boundary", distribution="spatial-etl-vector-boundary", version="0.1.0"
)

# ----------------------------------------------------------------------------- documents


def _input(batch_id: str, name: str) -> InputRecord:
    key = f"{batch_id}/{name}"
    return InputRecord(
        path=f"s3://landing-zone/{key}", bucket="landing-zone", key=key, sha256=SHA_IN, size=5_200
    )


def batch(batch_id: str = "batch_01", **changes: Any) -> BatchDocument:
    values: dict[str, Any] = {
        "batch_id": batch_id,
        "manifest_key": f"manifests/{batch_id}.json",
        "manifest_etag": f'"etag-{batch_id}"',
        "manifest_sha256": "c" * 64,
        "uploader": "alice",
        "intent": "ingest_vector_boundary",
        "status": "received",
        "problems": [],
        "received_at": T0,
        "updated_at": T0,
        "run_ids": [],
        "manifest": {
            "batch_id": batch_id,
            "uploader": "alice",
            "intent": "ingest_vector_boundary",
            "files": [
                {
                    "path": f"s3://landing-zone/{batch_id}/districts.gpkg",
                    "type": "vector",
                    "format": "GPKG",
                    "crs": "EPSG:4326",
                }
            ],
            "metadata": {"project": "cadastre", "description": "Districts"},
        },
    }
    return BatchDocument(**{**values, **changes})


def run(run_id: str, batch_id: str = "batch_01", **changes: Any) -> RunDocument:
    values: dict[str, Any] = {
        "run_id": run_id,
        "batch_id": batch_id,
        "intent": "ingest_vector_boundary",
        "plugin": PLUGIN,
        "status": "running",
        "started_at": T0 + timedelta(minutes=1),
        "finished_at": None,
        "error": None,
        "inputs": [_input(batch_id, "districts.gpkg")],
        "outputs": [],
        "timings": {"stage": 1.5},
        "versions": {"gdal": "3.6.2", "postgis": "3.3.2", "spatial-etl": "0.1.0"},
    }
    return RunDocument(**{**values, **changes})


def asset(
    run_id: str,
    *,
    dataset: str = "districts",
    version: int = 1,
    batch_id: str = "batch_01",
    raster: bool = False,
    bbox: tuple[float, float, float, float] | None = (5.9, 45.8, 10.5, 47.8),
    project: str | None = None,
) -> AssetDocument:
    asset_id = new_asset_id()
    intent = "ingest_satellite_raster" if raster else "ingest_vector_boundary"
    suffix = "tif" if raster else "parquet"
    key = f"{intent}/{dataset}/v{version}/{dataset}.{suffix}"
    form = "COG" if raster else "GeoParquet"
    return AssetDocument.model_validate(
        {
            "asset_id": asset_id,
            "status": "pending",
            "intent": intent,
            "dataset": dataset,
            "version": version,
            "bucket": "data-lake",
            "s3_key": key,
            "sha256": f"{version:x}".rjust(64, "b"),
            "size": 12_345,
            "format": form,
            "crs": "EPSG:32633" if raster else "EPSG:4326",
            "bbox_wgs84": bbox,
            "feature_count": None if raster else 2_148,
            "raster": RasterFacts(width=800, height=600, bands=3, dtype="Byte", nodata=0)
            if raster
            else None,
            "columns": [] if raster else [{"name": "name", "type": "string"}],
            "run_id": run_id,
            "batch_id": batch_id,
            "plugin": PLUGIN,
            "inputs": [_input(batch_id, "districts.gpkg")],
            "parameters": {},
            "duplicate_of": None,
            "iso19115": {
                "title": f"{dataset} v{version}",
                "abstract": "Districts",
                "extent": None if bbox is None else dict(zip(SIDES, bbox, strict=True)),
                "reference_system": "EPSG:4326",
                "lineage": {"statement": "Loaded with ingest_vector_boundary.", "steps": ["load"]},
                "distribution": {"format": form, "s3_uri": f"s3://data-lake/{key}"},
            },
            "created_at": T0 + timedelta(minutes=2, seconds=version),
            "committed_at": None,
            "provenance": {"project": project, "uploader": "alice", "description": "Districts"},
        }
    )


# ----------------------------------------------------------------------------- the ledger


class Opened:
    """Stands in for ``connect.open_ledger``: the mongomock ledger, and the timeouts asked."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.timeouts: list[float] = []

    def __call__(self, timeout_s: float) -> Ledger:
        self.timeouts.append(timeout_s)
        return self.ledger


@pytest.fixture
def db() -> Any:
    database: Any = mongomock.MongoClient(tz_aware=True)["spatial_etl"]
    ensure_indexes(database)
    return database


@pytest.fixture
def ledger(db: Any, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    opened = Ledger(db)
    monkeypatch.setattr(connect, "open_ledger", Opened(opened))
    return opened


@pytest.fixture
def seeded(ledger: Ledger) -> dict[str, Any]:
    """batch_01: a failed run, then a re-run that published two datasets (one of them twice
    over: a failed attempt, then the committed version 2); batch_02 rejected."""
    ledger.record_batch(batch())
    ledger.update_batch_status("batch_01", "running", run_id="run-1")
    ledger.start_run(run("run-1"))
    error = RunError(
        message="ogr2ogr exited with status 1: layer has points",
        step="load",
        file="s3://landing-zone/batch_01/districts.gpkg",
    )
    ledger.finish_run(
        "run-1", "failed", error=error, finished_at=T0 + timedelta(minutes=2), timings={"load": 2}
    )
    ledger.update_batch_status("batch_01", "failed")
    ledger.update_batch_status("batch_01", "running", run_id="run-2")
    ledger.start_run(run("run-2", started_at=T0 + timedelta(hours=1)))
    published = []
    for doc in (asset("run-2", version=1), asset("run-2", raster=True, dataset="scene")):
        ledger.insert_pending_asset(doc)
        published.append(ledger.commit_asset(doc.asset_id, T0 + timedelta(hours=1, minutes=3)))
    attempt = asset("run-2", version=2)
    ledger.insert_pending_asset(attempt)
    failed = ledger.fail_asset(attempt.asset_id, "upload refused: checksum mismatch")
    retry = asset("run-2", version=2)
    ledger.insert_pending_asset(retry)
    latest = ledger.commit_asset(retry.asset_id, T0 + timedelta(hours=1, minutes=4))
    ledger.finish_run(
        "run-2",
        "succeeded",
        outputs=[doc.asset_id for doc in (*published, latest)],
        finished_at=T0 + timedelta(hours=1, minutes=5),
        timings={"compute": 42.0, "publish": 3.25},
    )
    ledger.update_batch_status("batch_01", "succeeded")
    problems = [
        Problem(loc="files[0].crs", code="bad_crs", message="'EPSG:0' is not a known CRS"),
        Problem(loc="intent", code="unknown_intent", message="unknown intent 'ingest_lidar'"),
    ]
    ledger.record_batch(batch("batch_02"))
    ledger.update_batch_status("batch_02", "rejected", problems=problems)
    return {
        "v1": published[0],
        "scene": published[1],
        "failed": failed,
        "v2": latest,
        "batch": ledger.get_batch("batch_01"),
        "runs": ledger.runs_of_batch("batch_01"),
    }


def _json(result: Any) -> Any:
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


# ----------------------------------------------------------------------------- ledger init


def test_ledger_init_dry_run_prints_exactly_the_commands_without_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SPATIAL_ETL_MONGODB_URI", raising=False)

    def refuse(timeout_s: float) -> Ledger:
        raise AssertionError("a dry run must not connect")

    monkeypatch.setattr(connect, "open_ledger", refuse)
    printed = _json(runner.invoke(app, ["ledger", "init", "--dry-run", "--json"]))
    assert printed["commands"] == json.loads(json.dumps(collection_commands()))
    assert printed["indexes"] == json.loads(json.dumps(index_commands()))
    assert [c["createIndexes"] for c in printed["indexes"]] == list(COLLECTIONS)
    assert "batch_id" in [i["name"] for i in printed["indexes"][2]["indexes"]]


def test_ledger_init_dry_run_text_holds_every_command_as_json() -> None:
    result = runner.invoke(app, ["ledger", "init", "--dry-run"], env=WIDE)
    assert result.exit_code == 0
    decoder = json.JSONDecoder()
    text, found = result.stdout, []
    position = text.find("{")
    while position != -1:
        value, end = decoder.raw_decode(text, position)
        found.append(value)
        position = text.find("{", end)
    assert found == json.loads(json.dumps(collection_commands() + index_commands()))
    assert "collMod" in result.stdout  # the note on existing collections


def _emulate_server_commands(db: Any) -> list[dict[str, Any]]:
    """mongomock has no create-with-validator nor collMod: record them, create the collection."""
    sent: list[dict[str, Any]] = []

    def command(document: dict[str, Any]) -> dict[str, Any]:
        sent.append(document)
        if "create" in document:
            db.create_collection(document["create"])
        return {"ok": 1.0}

    db.command = command
    return sent


def test_ledger_init_applies_validators_and_indexes_and_is_idempotent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db: Any = mongomock.MongoClient(tz_aware=True)["ledger_prod"]
    sent = _emulate_server_commands(db)
    opened = Opened(Ledger(db))
    monkeypatch.setattr(connect, "open_ledger", opened)
    first = _json(runner.invoke(app, ["ledger", "init", "--json", "--timeout", "2.5"]))
    assert opened.timeouts == [2.5]
    assert first["database"] == "ledger_prod"
    assert first["done"][:3] == ["created batches", "created runs", "created assets"]
    assert sent == collection_commands()
    assert "batch_id" in db.assets.index_information()
    sent.clear()
    again = runner.invoke(app, ["ledger", "init"], env=WIDE)
    assert again.exit_code == 0
    assert "Ledger ready in database ledger_prod" in again.stdout
    assert "updated the validator of assets" in again.stdout
    assert sent == collection_commands(set(COLLECTIONS))


def test_ledger_init_unreachable_server_exits_2_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SPATIAL_ETL_MONGODB_URI", "mongodb://etl:secret@127.0.0.1:1/")
    started = datetime.now(UTC)
    result = runner.invoke(app, ["ledger", "init", "--timeout", "0.3"], env=WIDE)
    assert result.exit_code == 2
    assert "cannot reach MongoDB" in result.stderr
    assert "127.0.0.1:1" in result.stderr
    assert "secret" not in result.stderr
    assert datetime.now(UTC) - started < timedelta(seconds=10)


def test_missing_mongodb_uri_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SPATIAL_ETL_MONGODB_URI", raising=False)
    result = runner.invoke(app, ["status", "batch_01"], env=WIDE)
    assert result.exit_code == 2
    assert "SPATIAL_ETL_MONGODB_URI is not set" in result.stderr


# ----------------------------------------------------------------------------- status


def test_status_json_is_the_ledger_documents(seeded: dict[str, Any]) -> None:
    shown = _json(runner.invoke(app, ["status", "batch_01", "--json"]))
    assert shown["batch"] == seeded["batch"].model_dump(mode="json", by_alias=True)
    assert shown["batch"]["_id"] == "batch_01"
    assert shown["batch"]["status"] == "succeeded"
    assert shown["batch"]["run_ids"] == ["run-1", "run-2"]
    assert shown["batch"]["received_at"] == "2025-03-01T12:00:00Z"
    assert [r["_id"] for r in shown["runs"]] == ["run-1", "run-2"]
    failed, succeeded = shown["runs"]
    assert failed["status"] == "failed"
    assert failed["error"] == {
        "message": "ogr2ogr exited with status 1: layer has points",
        "type": None,
        "step": "load",
        "file": "s3://landing-zone/batch_01/districts.gpkg",
    }
    assert succeeded["timings"] == {"stage": 1.5, "compute": 42.0, "publish": 3.25}
    assert succeeded["finished_at"] == "2025-03-01T13:05:00Z"
    assets = {(a["dataset"], a["version"], a["status"]): a for a in shown["assets"]}
    assert set(assets) == {
        ("districts", 1, "committed"),
        ("scene", 1, "committed"),
        ("districts", 2, "failed"),
        ("districts", 2, "committed"),
    }
    latest = assets["districts", 2, "committed"]
    assert latest == seeded["v2"].model_dump(mode="json", by_alias=True)
    assert latest["s3_key"] == "ingest_vector_boundary/districts/v2/districts.parquet"
    assert latest["feature_count"] == 2_148
    assert assets["scene", 1, "committed"]["raster"]["width"] == 800
    assert assets["districts", 2, "failed"]["failure"] == "upload refused: checksum mismatch"


def test_status_table_shows_runs_errors_and_assets(seeded: dict[str, Any]) -> None:
    result = runner.invoke(app, ["status", "batch_01", "--wide"], env=WIDE)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Batch batch_01: succeeded" in out
    assert "received  2025-03-01 12:00:00 UTC" in out
    assert "manifest  manifests/batch_01.json (1 file(s))" in out
    assert "run-1" in out and "run-2" in out
    assert "Run run-1 failed at step 'load' on s3://landing-zone/batch_01/districts.gpkg:" in out
    assert "ogr2ogr exited with status 1: layer has points" in out
    assert "compute 42.0 s" in out
    assert "1 min 00 s" in out and "5 min 00 s" in out  # the runs' durations
    assert "s3://data-lake/ingest_vector_boundary/districts/v2/districts.parquet" in out
    assert "2,148 features" in out
    assert "800 x 600 x 3 Byte" in out
    assert "failed: upload refused: checksum mismatch" in out
    assert seeded["v2"].sha256 in out


def test_status_of_a_rejected_batch_lists_its_problems(seeded: dict[str, Any]) -> None:
    result = runner.invoke(app, ["status", "batch_02"], env=WIDE)
    assert result.exit_code == 0
    assert "Batch batch_02: rejected" in result.stdout
    assert "Rejected: 2 problem(s)" in result.stdout
    assert "files[0].crs: 'EPSG:0' is not a known CRS" in result.stdout
    assert "No runs yet." in result.stdout
    shown = _json(runner.invoke(app, ["status", "batch_02", "--json"]))
    assert [p["code"] for p in shown["batch"]["problems"]] == ["bad_crs", "unknown_intent"]
    assert shown["runs"] == shown["assets"] == []


def test_status_of_an_unknown_batch_exits_1(seeded: dict[str, Any]) -> None:
    result = runner.invoke(app, ["status", "batch_99"], env=WIDE)
    assert result.exit_code == 1
    assert "unknown batch 'batch_99'" in result.stderr
    assert result.stdout == ""
    assert runner.invoke(app, ["status", "batch_99", "--json"]).exit_code == 1


# ----------------------------------------------------------------------------- assets list


def test_assets_list_json_latest_committed_version_per_dataset(seeded: dict[str, Any]) -> None:
    listed = _json(runner.invoke(app, ["assets", "list", "--json"]))
    assert listed == [
        seeded["scene"].model_dump(mode="json", by_alias=True),
        seeded["v2"].model_dump(mode="json", by_alias=True),
    ]
    assert listed[1]["committed_at"] == "2025-03-01T13:04:00Z"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--all-versions"], [("scene", 1), ("districts", 2), ("districts", 1)]),
        (["--intent", "ingest_vector_boundary"], [("districts", 2)]),
        (
            ["--intent", "ingest_vector_boundary", "--all-versions"],
            [("districts", 2), ("districts", 1)],
        ),
        (["--dataset", "scene"], [("scene", 1)]),
        (["--intent", "ingest_lidar"], []),
    ],
)
def test_assets_list_filters(
    seeded: dict[str, Any], args: list[str], expected: list[tuple[str, int]]
) -> None:
    listed = _json(runner.invoke(app, ["assets", "list", "--json", *args]))
    assert [(a["dataset"], a["version"]) for a in listed] == expected
    assert {a["status"] for a in listed} <= {"committed"}


def test_assets_list_limit_warns_when_more_exist(seeded: dict[str, Any]) -> None:
    result = runner.invoke(app, ["assets", "list", "--json", "--limit", "1"])
    assert [a["dataset"] for a in json.loads(result.stdout)] == ["scene"]
    assert "only the first 1 shown" in result.stderr


def test_assets_list_table(seeded: dict[str, Any]) -> None:
    result = runner.invoke(app, ["assets", "list", "--wide"], env=WIDE)
    assert result.exit_code == 0
    out = result.stdout
    assert "Committed assets (latest versions)" in out
    assert "ingest_satellite_raster" in out and "ingest_vector_boundary" in out
    assert "s3://data-lake/ingest_vector_boundary/districts/v2/districts.parquet" in out
    assert "v1/districts.parquet" not in out
    assert "2025-03-01 13:04:00 UTC" in out
    assert seeded["v2"].asset_id in out


def test_assets_list_empty_ledger(ledger: Ledger) -> None:
    result = runner.invoke(app, ["assets", "list"])
    assert result.exit_code == 0
    assert "No committed assets." in result.stdout
    assert _json(runner.invoke(app, ["assets", "list", "--json"])) == []


def test_a_document_the_models_refuse_is_reported_not_a_traceback(ledger: Ledger, db: Any) -> None:
    db.batches.insert_one({"_id": "batch_bad", "status": "exploded"})
    result = runner.invoke(app, ["status", "batch_bad"], env=WIDE)
    assert result.exit_code == 1
    assert "does not match the models" in result.stderr


def test_commands_ask_for_the_timeout_given(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: Callable[[float], Ledger] = connect.open_ledger
    assert isinstance(opened, Opened)
    runner.invoke(app, ["assets", "list", "--timeout", "1.5"])
    runner.invoke(app, ["status", "x"])
    assert opened.timeouts == [1.5, connect.DEFAULT_TIMEOUT_S]


# ----------------------------------------------------------------------------- 80 columns

NARROW = {"COLUMNS": "80"}


def _fits(text: str) -> None:
    """Every line within 80 columns and no cell cut short with an ellipsis."""
    assert text.strip()
    assert max(len(line) for line in text.splitlines()) <= 80, text
    assert "…" not in text, text


def test_status_at_80_columns_shows_records_with_every_value_whole(
    seeded: dict[str, Any],
) -> None:
    result = runner.invoke(app, ["status", "batch_01"], env=NARROW)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    _fits(out)
    assert "Batch batch_01: succeeded" in out
    assert "run-1: failed" in out and "run-2: succeeded" in out
    assert "Run run-1 failed at step 'load'" in out
    # long values fold onto the next line instead of being cut: joined, they are whole
    joined = "".join(line.strip() for line in out.splitlines())
    assert seeded["v2"].sha256 in joined
    assert "s3://data-lake/ingest_vector_boundary/districts/v2/districts.parquet" in joined
    assert "districts v2: committed" in out
    assert "failed: upload refused: checksum mismatch" in joined
    assert "2,148 features" in out


def test_assets_list_at_80_columns_shows_records(seeded: dict[str, Any]) -> None:
    result = runner.invoke(app, ["assets", "list"], env=NARROW)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    _fits(out)
    assert "ingest_vector_boundary/districts v2" in out
    assert "ingest_satellite_raster/scene v1" in out
    assert "committed  2025-03-01 13:04:00 UTC" in out
    joined = "".join(line.strip() for line in out.splitlines())
    assert seeded["v2"].asset_id in joined
    assert "v1/districts.parquet" not in joined


def test_wide_tables_are_as_wide_as_their_content(seeded: dict[str, Any]) -> None:
    result = runner.invoke(app, ["assets", "list", "--wide"], env=NARROW)
    assert result.exit_code == 0
    assert "…" not in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) > 80
    row = next(line for line in result.stdout.splitlines() if "districts/v2" in line)
    assert "s3://data-lake/ingest_vector_boundary/districts/v2/districts.parquet" in row
    assert seeded["v2"].asset_id in row


# ----------------------------------------------------------------------------- assets list filters

HOSTILE = "[bold]Boom[/bold] <script>alert(1)</script> \x1b[2J[red]\u202egnp.exe"


@pytest.fixture
def lake(ledger: Ledger) -> dict[str, AssetDocument]:
    """Committed datasets an hour apart from 13:00: alps (cadastre), fiji (crosses the
    antimeridian, forestry), unknown extent (cadastre); then districts v2 of another day."""
    made = {}
    for hour, (name, bbox, project) in enumerate(
        [
            ("alps", (5.9, 45.8, 10.5, 47.8), "cadastre"),
            ("fiji", (177.0, -21.0, -178.0, -12.0), "forestry"),
            ("nowhere", None, "cadastre"),
        ]
    ):
        doc = asset("run-1", dataset=name, bbox=bbox, project=project)
        ledger.insert_pending_asset(doc)
        made[name] = ledger.commit_asset(doc.asset_id, T0 + timedelta(hours=1 + hour))
    return made


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--project", "cadastre"], ["alps", "nowhere"]),
        (["--project", "forestry"], ["fiji"]),
        (["--since", "2025-03-01T14:00:00Z"], ["fiji", "nowhere"]),  # included
        (["--until", "2025-03-01T14:00:00Z"], ["alps"]),  # excluded
        (["--since", "2025-03-01T15:00:00+01:00", "--until", "2025-03-01T15:00"], ["fiji"]),
        (["--since", "2025-03-01", "--until", "2025-03-02"], ["alps", "fiji", "nowhere"]),
        (["--since", "2025-03-02"], []),
        (["--bbox", "0,40,20,50"], ["alps"]),
        (["--bbox", "170,-30,-170,-10"], ["fiji"]),  # a box crossing the antimeridian
        (["--bbox", "-179,-20,-178.5,-15"], ["fiji"]),  # fiji's part east of it
        (["--bbox", "10.5,47.8,11,48"], ["alps"]),  # touching a corner
        (["--bbox", "-180,-90,180,90"], ["alps", "fiji"]),  # never an unknown extent
        (["--bbox", "0,40,20,50", "--project", "forestry"], []),
    ],
)
def test_assets_list_filters_by_project_time_and_box(
    lake: dict[str, AssetDocument], args: list[str], expected: list[str]
) -> None:
    listed = _json(runner.invoke(app, ["assets", "list", "--json", *args]))
    assert [a["dataset"] for a in listed] == expected


def test_assets_list_says_when_filters_match_nothing(lake: dict[str, AssetDocument]) -> None:
    result = runner.invoke(app, ["assets", "list", "--project", "nobody"], env=NARROW)
    assert result.exit_code == 0
    assert result.stdout == "No committed assets match.\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bbox", "1,2,3"], "a box is four numbers W,S,E,N"),
        (["--bbox", "a,2,3,4"], "west 'a' is not a number"),
        (["--bbox", "0,-95,3,4"], "south -95 is not within -90 and 90"),
        (["--bbox", "190,0,200,1"], "west 190 is not within -180 and 180"),
        (["--bbox", "0,50,1,40"], "south 50 is north of north 40"),
        (["--since", "yesterday"], "'yesterday' is not an ISO 8601 date or date-time"),
        (["--until", "2025-02-30"], "'2025-02-30' is not an ISO 8601 date"),
        (
            ["--since", "2025-03-02", "--until", "2025-03-01"],
            "2025-03-02 00:00:00 UTC is not before --until 2025-03-01 00:00:00 UTC",
        ),
    ],
)
def test_assets_list_refuses_bad_values_with_a_usage_error(
    ledger: Ledger, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["assets", "list", *args], env=WIDE)
    assert result.exit_code == 2
    assert result.stdout == ""
    error = " ".join(line.strip(" │") for line in result.stderr.splitlines())
    assert "Invalid value for '--" in error
    assert message in error


# ----------------------------------------------------------------------------- assets show


@pytest.fixture
def shown(ledger: Ledger, seeded: dict[str, Any]) -> dict[str, Any]:
    """seeded's districts, v2 with provenance and sidecars; a rerun recorded as its duplicate;
    a pending raster; v2 by a hostile description."""
    v2 = ledger.get_asset(seeded["v2"].asset_id)
    assert v2 is not None
    ledger.db.assets.update_one(
        {"_id": v2.asset_id},
        {"$set": catalogued(v2, description=HOSTILE).model_dump(by_alias=True)},
    )
    duplicate = v2.model_copy(
        update={
            "asset_id": new_asset_id(),
            "status": "duplicate",
            "committed_at": None,
            "duplicate_of": v2.asset_id,
            "run_id": "run-3",
            "batch_id": "batch_03",
        }
    )
    ledger.record_duplicate(duplicate)
    pending = asset("run-4", raster=True, dataset="scene", version=2)
    ledger.insert_pending_asset(pending)
    return {**seeded, "v2": ledger.get_asset(v2.asset_id), "dup": duplicate, "pending": pending}


def _joined(text: str) -> str:
    """The text without any whitespace: folded values are whole again."""
    return "".join(text.split())


def test_assets_show_prints_a_committed_asset_as_one_record(shown: dict[str, Any]) -> None:
    v2 = shown["v2"]
    result = runner.invoke(app, ["assets", "show", v2.asset_id], env=NARROW)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    _fits(out)
    assert out.startswith("ingest_vector_boundary/districts v2 (latest)\n")
    assert "Not committed" not in out
    for line in (
        "  status       committed 2025-03-01 13:04:00 UTC",
        "  format       GeoParquet",
        "  size         12.1 KiB (12,345 bytes)",
        f"  sha256       {v2.sha256}",
        "  crs          EPSG:4326",
        "  bbox         5.9, 45.8, 10.5, 47.8 (W, S, E, N)",
        "  rows         2,148",
        "  columns      name (string)",
        "  project      cadastre",
        "  uploader     alice",
        "  run          run-2",
        "  batch        batch_01",
        "  plugin       spatial-etl-vector-boundary 0.1.0 (vector_boundary)",
        "s3://landing-zone/batch_01/districts.gpkg",
        f"  sha256  {SHA_IN}",
        "  - load",
        f"  v1  2025-03-01 13:03:00 UTC  {shown['v1'].asset_id}",
        f"  run-3  batch batch_03, {shown['dup'].created_at:%Y-%m-%d %H:%M:%S} UTC",
    ):
        assert line + "\n" in out, line
    joined = _joined(out)
    folder = "s3://data-lake/ingest_vector_boundary/districts/v2"
    assert f"object{folder}/districts.parquet" in joined
    assert f"STACitem{folder}/item.json" in joined
    assert f"ISO19139{folder}/districts.iso19139.xml" in joined
    assert f"quicklook{folder}/districts.png" in joined
    assert "scene" not in out  # another dataset's versions are not its versions


def test_assets_show_prints_a_hostile_description_literally(shown: dict[str, Any]) -> None:
    literal = "[bold]Boom[/bold] <script>alert(1)</script> \\x1b[2J[red]\\u202egnp.exe"
    for args, env in (([], WIDE), (["--wide"], NARROW), ([], NARROW)):
        result = runner.invoke(app, ["assets", "show", shown["v2"].asset_id, *args], env=env)
        assert result.exit_code == 0
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
        if env is WIDE:
            line = next(line for line in result.stdout.splitlines() if "description" in line)
            assert line == f"  description  {literal}"
        else:  # folded at 80 columns, or framed in a table: whole once whitespace is gone
            assert _joined(literal) in _joined(result.stdout.replace("│", ""))


def test_assets_show_of_an_older_version_names_the_latest(shown: dict[str, Any]) -> None:
    result = runner.invoke(app, ["assets", "show", shown["v1"].asset_id], env=NARROW)
    assert result.exit_code == 0
    _fits(result.stdout)
    assert result.stdout.startswith("ingest_vector_boundary/districts v1 (latest committed: v2)")
    assert f"  v2  2025-03-01 13:04:00 UTC  {shown['v2'].asset_id}\n" in result.stdout
    assert "Links\n  - none recorded for this version\n" in result.stdout
    assert "  project      -\n" in result.stdout  # no project recorded
    assert "Reproduced by" not in result.stdout


@pytest.mark.parametrize(
    ("key", "status", "says"),
    [
        ("pending", "pending", "the object may be missing or incomplete"),
        ("failed", "failed", "its publish failed (upload refused: checksum mismatch)"),
        ("dup", "duplicate", "a run reproduced asset {original}"),
    ],
)
def test_assets_show_says_clearly_when_an_asset_is_not_committed(
    shown: dict[str, Any], key: str, status: str, says: str
) -> None:
    doc = shown[key]
    result = runner.invoke(app, ["assets", "show", doc.asset_id], env=NARROW)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    _fits(out)
    notice = " ".join(out.splitlines()[1:3])
    assert notice.startswith(f"Not committed ({status}): ")
    assert says.format(original=shown["v2"].asset_id) in notice
    assert f"  status       {status}\n" in out
    shown_json = _json(runner.invoke(app, ["assets", "show", doc.asset_id, "--json"]))
    assert shown_json["committed"] is False
    assert shown_json["latest"] is False


def test_assets_show_of_a_pending_version_without_a_committed_one(shown: dict[str, Any]) -> None:
    out = runner.invoke(app, ["assets", "show", shown["pending"].asset_id], env=NARROW).stdout
    assert out.startswith("ingest_satellite_raster/scene v2 (latest committed: v1)")
    assert "  raster       800 x 600 px, 3 band(s)\n" in out
    assert "  dtype        Byte\n" in out and "  nodata       0\n" in out
    assert "  rows  " not in out


def test_assets_show_json(shown: dict[str, Any]) -> None:
    v2 = shown["v2"]
    printed = _json(runner.invoke(app, ["assets", "show", v2.asset_id, "--json"]))
    assert printed["asset"] == v2.model_dump(mode="json", by_alias=True)
    assert printed["asset"]["provenance"]["description"] == HOSTILE
    assert printed["committed"] is True
    assert printed["latest"] is True
    assert printed["latest_version"] == 2
    folder = "s3://data-lake/ingest_vector_boundary/districts/v2"
    assert printed["links"] == {
        "stac_item": f"{folder}/item.json",
        "iso19139": f"{folder}/districts.iso19139.xml",
        "thumbnail": f"{folder}/districts.png",
    }
    assert printed["other_versions"] == [
        {
            "asset_id": shown["v1"].asset_id,
            "version": 1,
            "committed_at": "2025-03-01T13:03:00Z",
            "s3_uri": "s3://data-lake/ingest_vector_boundary/districts/v1/districts.parquet",
        }
    ]
    [duplicate] = printed["duplicates"]
    assert (duplicate["asset_id"], duplicate["run_id"], duplicate["batch_id"]) == (
        shown["dup"].asset_id,
        "run-3",
        "batch_03",
    )


def test_assets_show_wide_prints_tables_at_their_width(shown: dict[str, Any]) -> None:
    result = runner.invoke(app, ["assets", "show", shown["v2"].asset_id, "--wide"], env=NARROW)
    assert result.exit_code == 0
    out = result.stdout
    assert "…" not in out
    assert max(len(line) for line in out.splitlines()) > 80
    row = next(line for line in out.splitlines() if "districts.gpkg" in line)
    assert SHA_IN in row and "5.1 KiB" in row
    assert "s3://data-lake/ingest_vector_boundary/districts/v2/districts.parquet" in out


def test_assets_show_of_an_unknown_asset_exits_1(shown: dict[str, Any]) -> None:
    for args in ([], ["--json"]):
        result = runner.invoke(app, ["assets", "show", "0" * 24, *args], env=WIDE)
        assert result.exit_code == 1
        assert result.stdout == ""
        assert "unknown asset '000000000000000000000000'" in result.stderr
