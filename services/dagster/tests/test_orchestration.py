"""The sensor and the shared job, as Dagster runs them, against moto's S3 server and PostGIS.

Resources are the real ones pointed at the test services; only the ledger is mongomock (no
MongoDB here), swapped in through ``LedgerResource.ledger``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pytest
from dagster_support import commit, dagster_world, keys, resources, running_run
from spatial_etl.run.intake import FAILED, PROCESSED, REJECTED
from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.sensor import manifest_sensor
from support import World, manifest, raster_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis]


@pytest.fixture
def world(postgis_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with dagster_world(postgis_dsn, tmp_path, monkeypatch) as made:
        yield made


def tick(world: World, postgis_dsn: str, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, resources=resources(world, postgis_dsn))
    result = manifest_sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


@pytest.mark.gdal
def test_a_tick_requests_valid_batches_and_rejects_the_rest(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("good", make_raster("a.tif"))
    commit(
        world,
        "good",
        json.dumps(manifest("good", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])),
    )
    commit(world, "broken", "{not json")
    commit(
        world,
        "lidar",
        json.dumps(
            manifest("lidar", "ingest_lidar", [raster_file("s3://landing-zone/lidar/x.tif")])
        ),
    )
    result = tick(world, postgis_dsn)
    [request] = [r for r in result.run_requests or [] if r.job_name == "ingest_job"]
    rejections = [r for r in result.run_requests or [] if r.job_name == "reject_manifest"]
    assert sorted(r.tags["spatial_etl/batch_id"] for r in rejections) == ["broken", "lidar"]
    assert request.run_key is not None
    assert request.run_key.startswith("manifests/good.json@")
    assert request.tags["spatial_etl/batch_id"] == "good"
    assert request.tags["spatial_etl/intent"] == "ingest_satellite_raster"
    assert request.tags["spatial_etl/plugin"] == "spatial-etl-satellite-raster==0.1.0"
    assert request.tags["spatial_etl/uploader"] == "tests"
    assert request.run_config["ops"]["ingest_manifest"]["config"]["key"] == "manifests/good.json"
    assert json.loads(result.cursor or "") == {"after": None}
    assert keys(world) == [
        "manifests/good.json",
        f"{REJECTED}broken.json",
        f"{REJECTED}broken.report.json",
        f"{REJECTED}lidar.json",
        f"{REJECTED}lidar.report.json",
    ]
    data, _ = world.store.get_bytes(
        world.store.settings.landing_bucket, f"{REJECTED}lidar.report.json"
    )
    assert json.loads(data)["known_intents"] == [
        "ingest_raster_mosaic",
        "ingest_satellite_raster",
        "ingest_vector_boundary",
        "ingest_vector_features",
    ]
    assert world.ledger.get_batch("broken").status == "rejected"  # type: ignore[union-attr]
    again = tick(world, postgis_dsn, result.cursor)  # the same manifest: the same run key
    assert [r.run_key for r in again.run_requests or []] == [request.run_key]  # no rejection again


def test_missing_files_wait_for_the_grace_period(
    world: World, postgis_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(
        world,
        "late",
        json.dumps(
            manifest(
                "late", "ingest_satellite_raster", [raster_file("s3://landing-zone/late/x.tif")]
            )
        ),
    )
    monkeypatch.setenv("SPATIAL_ETL_MANIFEST_GRACE_PERIOD_S", "600")
    assert tick(world, postgis_dsn).run_requests == []
    assert keys(world) == ["manifests/late.json"]
    monkeypatch.setenv("SPATIAL_ETL_MANIFEST_GRACE_PERIOD_S", "0")
    [shown] = tick(world, postgis_dsn).run_requests or []  # the rejection's run, not an ingest
    assert (shown.job_name, shown.tags["spatial_etl/status"]) == ("reject_manifest", "rejected")
    assert keys(world) == [f"{REJECTED}late.json", f"{REJECTED}late.report.json"]


def test_1500_manifests_are_examined_in_bounded_ticks_without_loss(
    world: World, postgis_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_SENSOR_MAX_MANIFESTS_PER_TICK", "600")
    monkeypatch.setenv("SPATIAL_ETL_MANIFEST_GRACE_PERIOD_S", "3600")
    names = [f"m{i:05d}" for i in range(1500)]

    def put(name: str) -> None:
        doc = manifest(
            name, "ingest_satellite_raster", [raster_file(f"s3://landing-zone/{name}/x.tif")]
        )
        commit(world, name, json.dumps(doc))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, names))
    cursors = []
    cursor = None
    for _ in range(3):
        cursor = tick(world, postgis_dsn, cursor).cursor
        cursors.append(json.loads(cursor or ""))
    assert cursors == [
        {"after": "manifests/m00599.json"},
        {"after": "manifests/m01199.json"},
        {"after": None},  # 300 left: the listing is exhausted and wraps
    ]
    assert world.ledger.db["batches"].count_documents({"status": "received"}) == 1500


@pytest.mark.gdal
def test_the_job_publishes_reports_assets_and_settles_the_manifest(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("scene", make_raster("scene.tif", size=(700, 600)))
    commit(
        world,
        "scene",
        json.dumps(manifest("scene", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])),
    )
    [request] = tick(world, postgis_dsn).run_requests or []
    result = ingest_job.execute_in_process(
        run_config=request.run_config, resources=resources(world, postgis_dsn), tags=request.tags
    )
    assert result.success
    [materialization] = result.asset_materializations_for_node("ingest_manifest")
    assert materialization.asset_key == dg.AssetKey(["lake", "ingest_satellite_raster"])
    assert materialization.partition == "scene"
    metadata = materialization.metadata
    asset = world.ledger.latest_committed("ingest_satellite_raster", "scene")
    assert asset is not None
    assert metadata["sha256"].value == asset.sha256
    assert metadata["version"].value == 1
    assert metadata["s3_uri"].value == f"s3://{world.store.settings.lake_bucket}/{asset.s3_key}"
    assert asset.run_id == result.run_id
    assert keys(world) == [f"{PROCESSED}scene.json"]
    batch = world.ledger.get_batch("scene")
    assert batch is not None
    assert (batch.status, batch.run_ids) == ("succeeded", [result.run_id])
    assert tick(world, postgis_dsn).run_requests == []  # nothing pending any more


@pytest.mark.gdal
def test_a_failed_job_says_why_and_leaves_the_manifest_in_failed(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("wrong", make_raster("w.tif", crs="EPSG:4326"))
    commit(
        world,
        "wrong",
        json.dumps(manifest("wrong", "ingest_satellite_raster", [raster_file(path, "EPSG:32633")])),
    )
    [request] = tick(world, postgis_dsn).run_requests or []
    result = ingest_job.execute_in_process(
        run_config=request.run_config, resources=resources(world, postgis_dsn), raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("ingest_manifest")
    assert failure is not None
    assert "differs from the manifest's crs" in str(failure.user_failure_data.description)  # type: ignore[union-attr]
    assert keys(world) == [f"{FAILED}wrong.json", f"{FAILED}wrong.report.json"]
    assert world.ledger.get_batch("wrong").status == "failed"  # type: ignore[union-attr]


@pytest.mark.gdal
def test_a_reuploaded_manifest_is_a_new_run_request_after_a_restart(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    import time

    path = world.upload("again", make_raster("a.tif"))
    body = json.dumps(
        manifest("again", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    )
    commit(world, "again", body)
    first = tick(world, postgis_dsn)
    time.sleep(1.1)  # S3 modification times have one-second resolution
    commit(world, "again", body)  # the same bytes uploaded again: same ETag, new object
    restarted = tick(world, postgis_dsn, first.cursor)  # a new context: as after a restart
    [before] = first.run_requests or []
    [after] = restarted.run_requests or []
    assert before.run_key != after.run_key
    assert before.run_key.split("@")[1] == after.run_key.split("@")[1]  # same ETag


def test_a_batch_left_running_by_a_dead_run_can_be_retried(world: World, postgis_dsn: str) -> None:
    body = manifest(
        "stuck", "ingest_satellite_raster", [raster_file("s3://landing-zone/stuck/x.tif")]
    )
    commit(world, "stuck", json.dumps(body))
    tick(world, postgis_dsn)
    world.ledger.update_batch_status("stuck", "running", run_id="a-run-the-instance-never-saw")
    commit(world, "stuck", json.dumps({**body, "uploader": "retrying"}))
    context = dg.build_sensor_context(
        resources=resources(world, postgis_dsn), instance=dg.DagsterInstance.ephemeral()
    )
    manifest_sensor(context)
    batch = world.ledger.get_batch("stuck")
    assert batch is not None
    assert (batch.status, batch.uploader) == ("received", "retrying")
    assert keys(world) == ["manifests/stuck.json"]  # waiting for its file, not rejected


@pytest.mark.gdal
def test_the_reconcile_sensor_settles_a_batch_whose_dagster_run_died(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    from spatial_etl_dagster.sensor import reconcile_sensor

    path = world.upload("died", make_raster("a.tif"))
    body = manifest("died", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    commit(world, "died", json.dumps(body))
    [request] = tick(world, postgis_dsn).run_requests or []
    instance = dg.DagsterInstance.ephemeral()
    # the run Dagster launched, as run monitoring leaves it after its worker was killed
    run = instance.create_run_for_job(ingest_job, run_config=request.run_config)
    instance.report_run_failed(run)
    world.ledger.start_run(running_run(run.run_id, "died"))
    world.ledger.acquire_batch("died", run.run_id)
    alive = instance.create_run_for_job(ingest_job, run_config=request.run_config)
    world.ledger.start_run(
        world.ledger.get_run(run.run_id).model_copy(update={"run_id": alive.run_id})  # type: ignore[union-attr]
    )
    context = dg.build_sensor_context(resources=resources(world, postgis_dsn), instance=instance)
    result = reconcile_sensor(context)
    assert isinstance(result, dg.SkipReason)
    assert "1 runs failed" in (result.skip_message or "")
    failed = world.ledger.get_run(run.run_id)
    assert failed is not None
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.type == "ProcessDied"
    assert world.ledger.get_run(alive.run_id).status == "running"  # type: ignore[union-attr]
    batch = world.ledger.get_batch("died")
    assert batch is not None
    assert (batch.status, batch.lease) == ("failed", None)
    assert keys(world) == [f"{FAILED}died.json", f"{FAILED}died.report.json"]
    data, _ = world.store.get_bytes(
        world.store.settings.landing_bucket, f"{FAILED}died.report.json"
    )
    assert json.loads(data)["error"]["type"] == "ProcessDied"
    # the uploader re-uploads: a new run request, not "batch id taken"
    commit(world, "died", json.dumps({**body, "uploader": "again"}))
    [retry] = tick(world, postgis_dsn).run_requests or []
    assert retry.tags["spatial_etl/batch_id"] == "died"


def test_a_run_dagster_still_shows_started_is_dead_when_its_process_is_gone(
    world: World, postgis_dsn: str
) -> None:
    import socket
    import subprocess

    from spatial_etl.models.ledger import WorkerRecord
    from spatial_etl_dagster.sensor import reconcile_sensor

    body = manifest(
        "gone", "ingest_satellite_raster", [raster_file("s3://landing-zone/gone/a.tif")]
    )
    commit(world, "gone", json.dumps(body))
    tick(world, postgis_dsn)
    instance = dg.DagsterInstance.ephemeral()
    config = {"ops": {"ingest_manifest": {"config": {"key": "manifests/gone.json", "etag": "x"}}}}
    run = instance.create_run_for_job(ingest_job, run_config=config)  # not finished: "alive"
    dead_pid = subprocess.Popen(["true"])  # a process that ended: its pid no longer exists
    dead_pid.wait()
    worker = WorkerRecord(host=socket.gethostname(), pid=dead_pid.pid)
    world.ledger.start_run(running_run(run.run_id, "gone", worker))
    world.ledger.acquire_batch("gone", run.run_id)
    context = dg.build_sensor_context(resources=resources(world, postgis_dsn), instance=instance)
    reconcile_sensor(context)
    assert world.ledger.get_run(run.run_id).status == "failed"  # type: ignore[union-attr]
    assert world.ledger.get_batch("gone").status == "failed"  # type: ignore[union-attr]
    shown = instance.get_run_by_id(run.run_id)
    assert shown is not None
    assert shown.status == dg.DagsterRunStatus.FAILURE  # Dagster is told, not left "started"


def test_a_run_that_died_before_taking_its_batch_fails_the_batch_instead_of_waiting_forever(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    from dagster._core.storage.tags import RUN_KEY_TAG

    path = world.upload("unstarted", make_raster("a.tif"))
    body = manifest("unstarted", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    commit(world, "unstarted", json.dumps(body))
    instance = dg.DagsterInstance.ephemeral()
    context = dg.build_sensor_context(resources=resources(world, postgis_dsn), instance=instance)
    [request] = manifest_sensor(context).run_requests  # type: ignore[union-attr]
    # Dagster launched it, and the worker died before the run recorded anything
    run = instance.create_run_for_job(
        ingest_job, run_config=request.run_config, tags={RUN_KEY_TAG: request.run_key or ""}
    )
    instance.report_run_failed(run)
    context = dg.build_sensor_context(resources=resources(world, postgis_dsn), instance=instance)
    again = manifest_sensor(context)
    assert again.run_requests == []  # type: ignore[union-attr]
    assert keys(world) == [f"{FAILED}unstarted.json", f"{FAILED}unstarted.report.json"]
    data, _ = world.store.get_bytes(
        world.store.settings.landing_bucket, f"{FAILED}unstarted.report.json"
    )
    assert json.loads(data)["error"]["type"] == "RunNotStarted"
    assert world.ledger.get_batch("unstarted").status == "failed"  # type: ignore[union-attr]
    commit(world, "unstarted", json.dumps({**body, "uploader": "again"}))  # the uploader retries
    [retry] = tick(world, postgis_dsn).run_requests or []
    assert retry.run_key != request.run_key
