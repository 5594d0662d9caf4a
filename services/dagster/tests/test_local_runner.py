"""``spatial-etl local run``: the real sensor and job on embedded services, as a user runs it.

Most tests start the runner as a subprocess (``python -m spatial_etl_dagster.local run``) and
read what it leaves in OUT_DIR. It starts its own S3 server and ledger, so no ``s3`` marker;
it needs GDAL and PostGIS, and uses the suite's PostGIS (SPATIAL_ETL_POSTGIS_DSN) except in
the one test of the throw-away cluster.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import psutil
import pyarrow.parquet as pq
import pystac
import pytest
import typer
from bson import json_util
from spatial_etl_dagster.local import app
from support import UTM_SQUARE, manifest, raster_file, vector_file
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "landing"


def run_local(
    landing: Path, out: Path, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    merged = {**os.environ, "COLUMNS": "250"}
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return subprocess.run(
        [sys.executable, "-m", "spatial_etl_dagster.local", "run", str(landing), "--out", str(out)],
        capture_output=True,
        text=True,
        env=merged,
        timeout=600,
        check=False,
    )


def commit(landing: Path, body: dict[str, Any] | str, name: str | None = None) -> None:
    name = name or str(body["batch_id"])  # type: ignore[index]
    text = body if isinstance(body, str) else json.dumps(body, indent=2)
    (landing / "manifests").mkdir(parents=True, exist_ok=True)
    (landing / "manifests" / f"{name}.json").write_text(text)


def place(landing: Path, batch: str, source: Path) -> str:
    target = landing / batch / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return f"s3://landing-zone/{batch}/{source.name}"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ledger(out: Path, collection: str) -> list[dict[str, Any]]:
    documents = json_util.loads((out / "ledger" / f"{collection}.json").read_text())
    assert isinstance(documents, list)
    return documents


def by_batch(out: Path) -> dict[str, dict[str, Any]]:
    summary = json.loads((out / "summary.json").read_text())
    return {entry["batch_id"]: entry for entry in summary["manifests"]}


def assert_lake_matches_ledger(out: Path) -> list[dict[str, Any]]:
    """Every lake object is exported, hashes as recorded, and is its committed asset's (its data
    object or a sidecar), or a STAC aggregate; returns the data objects."""
    objects = json.loads((out / "objects.json").read_text())
    lake = [o for o in objects if o["bucket"] == "data-lake"]
    assets = {doc["_id"]: doc for doc in ledger(out, "assets")}
    exported = sorted(
        p.relative_to(out / "data-lake").as_posix()
        for p in (out / "data-lake").rglob("*")
        if p.is_file()
    )
    assert exported == sorted(o["key"] for o in lake)
    data_objects = []
    for entry in lake:
        data = out / "data-lake" / entry["key"]
        assert sha256(data) == entry["sha256"] == entry["metadata"]["content_hash"]
        assert data.stat().st_size == entry["size"]
        if entry["metadata"].get("role") == "stac_aggregate":
            assert entry["key"].startswith("stac/")
            continue
        asset = assets[entry["metadata"]["mongodb_doc_id"]]
        assert asset["status"] == "committed"
        owned = {asset["s3_key"]: asset["sha256"]} | {
            item["key"]: item["sha256"] for item in asset["sidecars"]
        }
        assert owned[entry["key"]] == entry["sha256"]
        if entry["key"] == asset["s3_key"]:
            assert asset["run_id"] == entry["metadata"]["run_id"]
            data_objects.append(entry)
    return data_objects


def assert_browsable_stac(out: Path, lake: list[dict[str, Any]]) -> None:
    """The exported lake is a STAC catalogue pystac browses, item to data, without the ledger."""
    root = pystac.Catalog.from_file(str(out / "data-lake" / "stac" / "catalog.json"))
    items = sorted(root.get_items(recursive=True), key=lambda item: item.id)
    assert len(items) == len(lake)
    for item, entry in zip(items, sorted(lake, key=lambda o: o["key"]), strict=True):
        assert item.id == entry["key"].rsplit("/", 1)[0].replace("/v", ".v").replace("/", ".")
        href = Path(item.assets["data"].get_absolute_href() or "")
        assert href == out / "data-lake" / entry["key"]
        assert item.assets["data"].extra_fields["file:checksum"] == "1220" + entry["sha256"]
        iso = Path(item.assets["iso19139"].get_absolute_href() or "")
        assert iso.read_bytes().startswith(b"<?xml")


def summary_records(stdout: str) -> dict[str, str]:
    """The printed summary's records by batch: the title line and its indented lines."""
    records: dict[str, str] = {}
    current: str | None = None
    for line in stdout.splitlines():
        if line.startswith("  ") and current is not None:
            records[current] += "\n" + line
        elif ": " in line and not line.startswith(" "):
            current = line.split(": ", 1)[0]
            records[current] = line
        else:
            current = None
    return records


def landing_keys(out: Path) -> list[str]:
    base = out / "landing-zone"
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


@pytest.mark.gdal
@pytest.mark.postgis
def test_a_landing_zone_runs_through_sensor_and_job_and_is_exported(
    tmp_path: Path,
    postgis_dsn: str,
    make_raster: Callable[..., Path],
    make_vector: Callable[..., Path],
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    scene = place(landing, "scene_a", make_raster("scene.tif", crs="EPSG:4326"))
    commit(
        landing, manifest("scene_a", "ingest_satellite_raster", [raster_file(scene, "EPSG:4326")])
    )
    parcels = place(
        landing,
        "parcels",
        make_vector("parcels.gpkg", [{"wkt": UTM_SQUARE, "name": "one"}], crs="EPSG:32633"),
    )
    commit(landing, manifest("parcels", "ingest_vector_boundary", [vector_file(parcels, "GPKG")]))
    commit(
        landing,
        manifest("lidar", "ingest_lidar", [raster_file("s3://landing-zone/lidar/x.tif")]),
    )
    commit(
        landing,
        manifest("late", "ingest_satellite_raster", [raster_file("s3://landing-zone/late/x.tif")]),
    )
    wrong = place(landing, "wrong_crs", make_raster("w.tif", crs="EPSG:4326"))
    commit(
        landing,
        manifest("wrong_crs", "ingest_satellite_raster", [raster_file(wrong, "EPSG:32633")]),
    )
    # a poison manifest (100,000 levels deep) is rejected and stops nothing
    (landing / "manifests" / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)

    done = run_local(landing, out, {"SPATIAL_ETL_POSTGIS_DSN": postgis_dsn})

    assert done.returncode == 1, done.stderr
    outcomes = by_batch(out)
    assert {batch: o["outcome"] for batch, o in outcomes.items()} == {
        "scene_a": "succeeded",
        "parcels": "succeeded",
        "lidar": "rejected",
        "late": "rejected",
        "wrong_crs": "failed",
        "deep": "rejected",
    }
    assert "nested more than 32 levels" in outcomes["deep"]["reason"]
    assert outcomes["scene_a"]["outputs"] == [
        "data-lake/ingest_satellite_raster/scene/v1/scene.tif"
    ]
    assert outcomes["parcels"]["outputs"] == [
        "data-lake/ingest_vector_boundary/parcels/v1/parcels.parquet"
    ]
    assert "unknown intent 'ingest_lidar'" in outcomes["lidar"]["reason"]
    assert "is not in the landing zone 0 s after" in outcomes["late"]["reason"]
    assert "differs from the manifest's crs" in outcomes["wrong_crs"]["reason"]
    # the printed summary: one record per manifest, the verdict, where the results are
    rows = summary_records(done.stdout)
    assert "succeeded" in rows["scene_a"]
    assert "scene/v1/scene.tif" in rows["scene_a"]
    assert "rejected" in rows["lidar"]
    assert "unknown intent" in rows["lidar"]
    assert "failed" in rows["wrong_crs"]
    assert "1 failed, 3 rejected, 2 succeeded; exit status 1" in done.stdout
    assert f"results in {out}/" in done.stdout

    lake = assert_lake_matches_ledger(out)
    assert sorted(o["key"] for o in lake) == [
        "ingest_satellite_raster/scene/v1/scene.tif",
        "ingest_vector_boundary/parcels/v1/parcels.parquet",
    ]
    assert pq.read_table(out / "data-lake" / lake[1]["key"]).num_rows == 1
    assert_browsable_stac(out, lake)

    batches = {doc["_id"]: doc for doc in ledger(out, "batches")}
    assert {batch: doc["status"] for batch, doc in batches.items()} == {
        "scene_a": "succeeded",
        "parcels": "succeeded",
        "lidar": "rejected",
        "late": "rejected",
        "wrong_crs": "failed",
        "deep": "rejected",
    }
    assert batches["late"]["problems"][0]["code"] == "file_missing"
    assert isinstance(batches["late"]["received_at"], datetime)  # a BSON date, not a string
    runs = {doc["batch_id"]: doc for doc in ledger(out, "runs")}
    assert {batch: doc["status"] for batch, doc in runs.items()} == {
        "scene_a": "succeeded",
        "parcels": "succeeded",
        "wrong_crs": "failed",
    }
    assert runs["scene_a"]["_id"] == outcomes["scene_a"]["run_id"]

    assert landing_keys(out) == [
        "manifests/failed/wrong_crs.json",
        "manifests/failed/wrong_crs.report.json",
        "manifests/processed/parcels.json",
        "manifests/processed/scene_a.json",
        "manifests/rejected/deep.json",
        "manifests/rejected/deep.report.json",
        "manifests/rejected/late.json",
        "manifests/rejected/late.report.json",
        "manifests/rejected/lidar.json",
        "manifests/rejected/lidar.report.json",
        "parcels/parcels.gpkg",
        "scene_a/scene.tif",
        "wrong_crs/w.tif",
    ]
    zone = out / "landing-zone"
    assert sha256(zone / "scene_a/scene.tif") == sha256(landing / "scene_a/scene.tif")
    lidar = json.loads((zone / "manifests/rejected/lidar.report.json").read_text())
    assert [p["code"] for p in lidar["problems"]] == ["unknown_intent"]
    assert lidar["known_intents"] == [
        "ingest_raster_mosaic",
        "ingest_satellite_raster",
        "ingest_vector_boundary",
        "ingest_vector_features",
    ]
    failed = json.loads((zone / "manifests/failed/wrong_crs.report.json").read_text())
    assert failed["status"] == "failed"
    assert failed["error"]["message"].startswith("s3://landing-zone/wrong_crs/w.tif: ")
    assert (out / "logs" / "run.log").read_text()
    assert len(list((out / "logs").glob("*.*.log"))) == 3  # one per run


@pytest.mark.gdal
@pytest.mark.postgis
def test_all_succeeded_exits_0_and_a_second_run_replaces_the_output(
    tmp_path: Path, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    path = place(landing, "only", make_raster("only.tif", crs="EPSG:4326"))
    commit(landing, manifest("only", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")]))
    (landing / ".DS_Store").write_text("not part of the mirror")
    env: dict[str, str | None] = {"SPATIAL_ETL_POSTGIS_DSN": postgis_dsn}

    first = run_local(landing, out, env)

    assert first.returncode == 0, first.stderr
    assert "1 succeeded; exit status 0" in first.stdout
    assert landing_keys(out) == ["manifests/processed/only.json", "only/only.tif"]
    [lake] = assert_lake_matches_ledger(out)
    (out / "data-lake" / lake["key"]).write_bytes(b"stale")
    second = run_local(landing, out, env)
    assert second.returncode == 0, second.stderr
    assert_lake_matches_ledger(out)  # a fresh output: the stale file is gone


@pytest.mark.gdal
@pytest.mark.postgis
def test_the_example_landing_zone_of_make_demo(tmp_path: Path, postgis_dsn: str) -> None:
    out = tmp_path / "demo-output"

    done = run_local(EXAMPLES, out, {"SPATIAL_ETL_POSTGIS_DSN": postgis_dsn})

    assert done.returncode == 1, done.stderr  # roads_2026 is rejected on purpose
    assert {b: o["outcome"] for b, o in by_batch(out).items()} == {
        "dem_2026": "succeeded",
        "dem_tiles_2026": "succeeded",
        "districts_2026": "succeeded",
        "roads_2026": "rejected",
        "water_2026": "succeeded",
    }
    lake = assert_lake_matches_ledger(out)
    assert sorted(o["key"] for o in lake) == [
        "ingest_raster_mosaic/elevation_mosaic/v1/elevation_mosaic.tif",
        "ingest_satellite_raster/elevation/v1/elevation.tif",
        "ingest_vector_boundary/districts/v1/districts.parquet",
        "ingest_vector_features/water_pipes/v1/water_pipes.parquet",
        "ingest_vector_features/water_wells/v1/water_wells.parquet",
    ]
    pipes = pq.read_table(
        out / "data-lake/ingest_vector_features/water_pipes/v1/water_pipes.parquet"
    )
    assert pipes.num_rows == 4
    assert json.loads(pipes.schema.metadata[b"geo"])["columns"]["geometry"]["geometry_types"] == [
        "LineString Z"
    ]
    [mosaic] = [a for a in ledger(out, "assets") if a["dataset"] == "elevation_mosaic"]
    assert (mosaic["raster"]["width"], mosaic["raster"]["height"]) == (256, 256)
    assert len(mosaic["inputs"]) == 4
    districts = pq.read_table(
        out / "data-lake/ingest_vector_boundary/districts/v1/districts.parquet"
    )
    assert districts.num_rows == 6
    assert json.loads(districts.schema.metadata[b"geo"])["columns"]["geometry"][
        "geometry_types"
    ] == ["MultiPolygon"]
    [elevation] = [a for a in ledger(out, "assets") if a["dataset"] == "elevation"]
    assert elevation["raster"]["nodata"] == -32768
    assert elevation["crs"] == "EPSG:32633"
    report = json.loads(
        (out / "landing-zone/manifests/rejected/roads_2026.report.json").read_text()
    )
    assert {p["loc"] for p in report["problems"]} == {"files[0].path", "intent"}
    assert (out / "landing-zone/manifests/processed/districts_2026.json").is_file()


@pytest.mark.gdal
@pytest.mark.postgis  # needs the PostgreSQL + PostGIS binaries rather than the suite's server
def test_without_a_dsn_a_throwaway_cluster_is_started_and_removed(
    tmp_path: Path, make_vector: Callable[..., Path]
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    path = place(
        landing,
        "zones",
        make_vector(
            "zones.geojson", [{"wkt": UTM_SQUARE, "zone": "A"}], driver="GeoJSON", crs="EPSG:32633"
        ),
    )
    commit(landing, manifest("zones", "ingest_vector_boundary", [vector_file(path, "GeoJSON")]))

    done = run_local(landing, out, {"SPATIAL_ETL_POSTGIS_DSN": None})

    assert done.returncode == 0, done.stderr
    found = re.search(r"throw-away cluster in (/tmp/spatial-etl-local-pg\.\w+)", done.stderr)
    assert found, done.stderr
    assert not Path(found.group(1)).exists()  # stopped and removed
    [lake] = assert_lake_matches_ledger(out)
    assert lake["key"] == "ingest_vector_boundary/zones/v1/zones.parquet"


def test_a_missing_landing_dir_exits_2(tmp_path: Path) -> None:
    done = run_local(tmp_path / "nowhere", tmp_path / "out")

    assert done.returncode == 2
    assert f"LANDING_DIR {tmp_path / 'nowhere'} is not a directory" in done.stderr
    assert not (tmp_path / "out").exists()


def test_no_postgis_exits_2_saying_what_to_install_or_set(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    commit(
        landing,
        manifest("x", "ingest_satellite_raster", [raster_file("s3://landing-zone/x/a.tif")]),
    )
    empty = tmp_path / "no-postgres"
    empty.mkdir()

    done = run_local(
        landing,
        tmp_path / "out",
        {"SPATIAL_ETL_POSTGIS_DSN": None, "SPATIAL_ETL_LOCAL_PG_BIN_DIR": str(empty)},
    )

    assert done.returncode == 2
    message = " ".join(done.stderr.split())
    assert f"no PostgreSQL server programs in {empty}" in message
    assert "apt-get install postgresql postgresql-15-postgis-3" in message
    assert "SPATIAL_ETL_POSTGIS_DSN" in message


# ----------------------------------------------------------------------------- in process


def test_the_app_is_a_typer_group_with_run() -> None:
    assert isinstance(app, typer.Typer)
    result = CliRunner().invoke(app, ["run", "--help"])
    assert result.exit_code == 0
    assert "--out" in result.output
    assert "SPATIAL_ETL_POSTGIS_DSN" in result.output


def test_the_core_cli_offers_the_local_group() -> None:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("spatial-etl")), "local", "run", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Upload LANDING_DIR to an embedded S3" in done.stdout


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        pytest.param("no-manifests", "has no manifests/ folder", id="no-manifests-folder"),
        pytest.param("empty-manifests", "holds no manifest", id="no-manifest"),
        pytest.param("foreign-out", "is not the output of an earlier local run", id="foreign-out"),
        pytest.param("out-is-landing", "must lie outside LANDING_DIR", id="out-in-landing"),
        pytest.param("no-gdal", "apt-get install gdal-bin", id="no-gdal"),
        pytest.param("bad-dsn", "cannot connect to SPATIAL_ETL_POSTGIS_DSN", id="bad-dsn"),
    ],
)
def test_what_cannot_run_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: str, expected: str
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    landing.mkdir()
    monkeypatch.delenv("SPATIAL_ETL_POSTGIS_DSN", raising=False)
    if setup == "bad-dsn":
        monkeypatch.setenv("SPATIAL_ETL_POSTGIS_DSN", "postgresql://nobody@127.0.0.1:1/x")
    if setup != "no-manifests":
        (landing / "manifests").mkdir()
    if setup not in {"no-manifests", "empty-manifests"}:
        commit(
            landing,
            manifest("x", "ingest_satellite_raster", [raster_file("s3://landing-zone/x/a.tif")]),
        )
    if setup == "foreign-out":
        out.mkdir()
        (out / "thesis.tex").write_text("keep me")
    if setup == "out-is-landing":
        out = landing / "results"
    if setup == "no-gdal":
        monkeypatch.setenv("SPATIAL_ETL_GDAL_BIN_DIR", str(tmp_path))

    result = CliRunner().invoke(app, ["run", str(landing), "--out", str(out)])

    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.output.split())
    if setup == "foreign-out":
        assert (out / "thesis.tex").read_text() == "keep me"


@pytest.mark.gdal
@pytest.mark.postgis
def test_a_run_that_crashes_before_settling_is_reported_and_not_retried(
    tmp_path: Path, postgis_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def crash(ref: Any, run_id: str, platform: Any, **_options: Any) -> None:
        calls.append(ref.key)
        raise RuntimeError("boom: a bug, not bad data")

    monkeypatch.setattr("spatial_etl_dagster.job.run_batch", crash)
    monkeypatch.setenv("SPATIAL_ETL_POSTGIS_DSN", postgis_dsn)
    landing, out = tmp_path / "landing", tmp_path / "out"
    commit(
        landing,
        manifest("x", "ingest_satellite_raster", [raster_file("s3://landing-zone/x/a.tif")]),
    )
    (landing / "x").mkdir()
    (landing / "x" / "a.tif").write_bytes(b"never read")

    result = CliRunner().invoke(app, ["run", str(landing), "--out", str(out)])

    assert result.exit_code == 1, result.output
    assert calls == ["manifests/x.json"]  # the second pass saw the same run key: not run again
    [outcome] = json.loads((out / "summary.json").read_text())["manifests"]
    assert outcome["outcome"] == "failed"
    assert "boom: a bug, not bad data" in outcome["reason"]
    assert (out / "landing-zone/manifests/x.json").is_file()  # still pending, as in production


def test_the_summary_reads_well_at_80_columns(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from spatial_etl_dagster.local import cli
    from spatial_etl_dagster.local.runner import Outcome, Result

    reason = (
        "files[0]: s3://landing-zone/late/x.tif is not in the landing zone 0 s after the "
        "manifest was committed; upload the batch's files before its manifest"
    )
    result = Result(
        outcomes=[
            Outcome(
                manifest="manifests/scene_a.json",
                batch_id="scene_a",
                intent="ingest_satellite_raster",
                status="succeeded",
                outputs=("data-lake/ingest_satellite_raster/scene/v1/scene.tif",),
            ),
            Outcome(
                manifest="manifests/late.json",
                batch_id="late",
                intent="ingest_satellite_raster",
                status="rejected",
                reason=reason,
            ),
        ],
        out_dir=tmp_path,
        services={},
        timings={"total": 3.0},
        objects={"data-lake": 1, "landing-zone": 4},
    )
    monkeypatch.setenv("COLUMNS", "80")
    cli._print_summary(result, wide=False)
    out = capsys.readouterr().out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    records = summary_records(out)
    assert "late: rejected" in records["late"]
    # the reason wraps as a sentence under its label: never one word per line
    lines = records["late"].splitlines()[2:]
    assert lines[0].startswith("  reason  files[0]: s3://landing-zone/late/x.tif is not")
    assert len(lines) >= 2 and all(len(line.split()) > 3 for line in lines[:-1])
    assert " ".join(line.strip() for line in lines).removeprefix("reason  ") == reason
    assert "output  data-lake/ingest_satellite_raster/scene/v1/scene.tif" in records["scene_a"]

    cli._print_summary(result, wide=True)
    wide = capsys.readouterr().out
    row = next(line for line in wide.splitlines() if "late" in line and "│" in line)
    assert reason in row  # the whole reason on the table's row


# ----------------------------------------------------------------------------- light runner


def _gone(pid: int) -> bool:
    """The process has exited (a zombie waiting for init to reap it counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _gone(pid):
            return True
        time.sleep(0.1)
    return _gone(pid)


@pytest.mark.s3
def test_the_embedded_s3_server_runs_in_a_child_process_and_stops_with_the_block(
    tmp_path: Path,
) -> None:
    from spatial_etl_dagster.local.embedded import s3_server

    with s3_server(tmp_path / "s3.log") as server:
        endpoint = server.endpoint()
        child = psutil.Process(server.pid)
        assert server.pid != os.getpid()
        assert child.ppid() == os.getpid()
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        client.create_bucket(Bucket="child-bucket")
        client.put_object(Bucket="child-bucket", Key="k", Body=b"held by the child")
        assert (
            client.get_object(Bucket="child-bucket", Key="k")["Body"].read() == b"held by the child"
        )
    assert _gone(server.pid)


def _runner_until_s3(
    landing: Path, out: Path, dsn: str, tmp: Path
) -> tuple[subprocess.Popen[str], int, list[str]]:
    """Start the local runner; return it, once it has said its S3 server's pid.

    Its temporary directories go under ``tmp``: a SIGKILL leaves them behind.
    """
    tmp.mkdir(parents=True, exist_ok=True)
    runner = subprocess.Popen(
        [sys.executable, "-m", "spatial_etl_dagster.local", "run", str(landing), "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "250", "SPATIAL_ETL_POSTGIS_DSN": dsn, "TMPDIR": str(tmp)},
    )
    assert runner.stderr is not None
    lines: list[str] = []
    for line in runner.stderr:
        lines.append(line)
        found = re.search(r"moto S3 server on 127\.0\.0\.1:\d+ \(pid (\d+)\)", line)
        if found:
            return runner, int(found.group(1)), lines
    runner.wait(timeout=60)
    raise AssertionError("the runner never named its S3 server:\n" + "".join(lines))


@pytest.mark.gdal
@pytest.mark.postgis
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_a_killed_runner_leaves_no_s3_server_behind(
    tmp_path: Path, postgis_dsn: str, make_raster: Callable[..., Path], how: str
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    scene = place(landing, "scene_k", make_raster("scene.tif", crs="EPSG:4326"))
    commit(
        landing, manifest("scene_k", "ingest_satellite_raster", [raster_file(scene, "EPSG:4326")])
    )
    runner, server, _ = _runner_until_s3(landing, out, postgis_dsn, tmp_path / "tmp")
    try:
        assert psutil.Process(server).ppid() == runner.pid
        runner.send_signal(getattr(signal, how))
        runner.wait(timeout=60)
        assert _wait_gone(server), f"the S3 server {server} outlived its runner ({how})"
    finally:
        if runner.poll() is None:
            runner.kill()
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(server).kill()


@pytest.mark.gdal
@pytest.mark.postgis  # the throw-away cluster's programs must be installed, though not started
def test_a_raster_landing_starts_no_postgis_and_stops_its_s3_server(
    tmp_path: Path, make_raster: Callable[..., Path]
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    scene = place(landing, "scene_r", make_raster("scene.tif", crs="EPSG:4326"))
    commit(
        landing, manifest("scene_r", "ingest_satellite_raster", [raster_file(scene, "EPSG:4326")])
    )

    done = run_local(landing, out, {"SPATIAL_ETL_POSTGIS_DSN": None})

    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["services"]["postgis"] == "not started: no manifest lists a vector file"
    found = re.search(r"\(pid (\d+)\)", summary["services"]["s3"])
    assert found, summary["services"]
    assert _gone(int(found.group(1)))
    [lake] = assert_lake_matches_ledger(out)
    assert lake["key"] == "ingest_satellite_raster/scene/v1/scene.tif"


def test_needs_postgis_only_for_a_manifest_listing_a_vector_file(tmp_path: Path) -> None:
    from spatial_etl_dagster.local.runner import needs_postgis, scan_landing

    landing = tmp_path / "landing"
    commit(
        landing,
        manifest("r", "ingest_satellite_raster", [raster_file("s3://landing-zone/r/a.tif")]),
    )
    commit(landing, "not json at all", name="broken")
    assert not needs_postgis(scan_landing(landing))
    commit(
        landing,
        manifest(
            "v", "ingest_vector_boundary", [vector_file("s3://landing-zone/v/a.gpkg", "GPKG")]
        ),
    )
    assert needs_postgis(scan_landing(landing))


def test_the_runner_repeats_the_intakes_folders() -> None:
    from spatial_etl.run import intake
    from spatial_etl_dagster.local import runner

    for name in ("PENDING", "PROCESSED", "REJECTED", "FAILED"):
        assert getattr(runner, name) == getattr(intake, name)


def test_importing_the_runner_loads_neither_dagster_nor_boto3_nor_moto() -> None:
    """The services start while Dagster loads: the runner imports it only then."""
    code = (
        "import sys, spatial_etl_dagster.local.runner; "
        "print(sorted(m for m in ('dagster', 'boto3', 'moto', 'pandas', 'pyarrow') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "[]"
