"""The manifest intake against moto's S3 server and the ledger: decisions, reports, settling."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from spatial_etl.run.executor import execute_run
from spatial_etl.run.intake import (
    FAILED,
    PROCESSED,
    REJECTED,
    Deferred,
    Rejection,
    RunTicket,
    Waiting,
    examine,
    pending_manifests,
    settle,
)
from support import World, manifest, raster_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis]


def commit(world: World, document: dict[str, Any] | str, name: str | None = None) -> Any:
    body = document if isinstance(document, str) else json.dumps(document)
    batch = name or (document["batch_id"] if isinstance(document, dict) else "x")
    return world.store.put_bytes(
        world.store.settings.landing_bucket, f"manifests/{batch}.json", body.encode(), metadata={}
    )


def landing_keys(world: World) -> list[str]:
    return [o.key for o in world.store.iter_objects(world.store.settings.landing_bucket)]


def report_of(world: World, key: str) -> dict[str, Any]:
    data, _ = world.store.get_bytes(world.store.settings.landing_bucket, key)
    return json.loads(data)


def decide(world: World, **kwargs: Any) -> list[Any]:
    refs = pending_manifests(world.store)
    return [
        examine(
            ref,
            world.platform,
            grace_period_s=kwargs.get("grace", 60.0),
            **{k: v for k, v in kwargs.items() if k != "grace"},
        )
        for ref in refs
    ]


@pytest.mark.gdal
def test_valid_manifest_with_its_files_gets_a_run_ticket(
    world: World, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("b1", make_raster("a.tif"))
    commit(world, manifest("b1", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")]))
    [decision] = decide(world)
    assert isinstance(decision, RunTicket)
    assert decision.ref.key == "manifests/b1.json"
    assert decision.ref.run_key.startswith("manifests/b1.json@")
    assert decision.tags == {
        "spatial_etl/batch_id": "b1",
        "spatial_etl/intent": "ingest_satellite_raster",
        "spatial_etl/plugin": "spatial-etl-satellite-raster==0.1.0",
        "spatial_etl/uploader": "tests",
    }
    batch = world.ledger.get_batch("b1")
    assert batch is not None
    assert batch.status == "received"
    [again] = decide(world)  # the same object: same run key, no new ledger record
    assert isinstance(again, RunTicket)
    assert again.ref.run_key == decision.ref.run_key


def test_invalid_json_is_rejected_with_a_report_beside_it(world: World) -> None:
    commit(world, '{"batch_id": "b2", ', name="b2")
    [decision] = decide(world)
    assert isinstance(decision, Rejection)
    assert decision.report_key == f"{REJECTED}b2.report.json"
    assert landing_keys(world) == [f"{REJECTED}b2.json", f"{REJECTED}b2.report.json"]
    report = report_of(world, decision.report_key)
    assert report["status"] == "rejected"
    assert report["valid"] is False
    assert report["problems"][0]["code"] == "invalid_json"
    batch = world.ledger.get_batch("b2")
    assert batch is not None
    assert batch.status == "rejected"
    assert batch.problems[0].code == "invalid_json"
    assert batch.manifest is None


def test_unknown_intent_report_lists_the_known_intents(world: World) -> None:
    commit(world, manifest("b3", "ingest_lidar", [raster_file("s3://landing-zone/b3/x.tif")]))
    [decision] = decide(world)
    assert isinstance(decision, Rejection)
    report = report_of(world, decision.report_key)
    assert report["known_intents"] == [
        "ingest_raster_mosaic",
        "ingest_satellite_raster",
        "ingest_vector_boundary",
        "ingest_vector_features",
    ]
    assert [p["code"] for p in report["problems"]] == ["unknown_intent"]


def test_missing_file_waits_then_is_rejected_after_the_grace_period(world: World) -> None:
    commit(
        world,
        manifest("b4", "ingest_satellite_raster", [raster_file("s3://landing-zone/b4/late.tif")]),
    )
    start = datetime.now(UTC)
    [first] = decide(world, grace=600, clock=lambda: start)
    assert isinstance(first, Waiting)
    assert first.missing == ("s3://landing-zone/b4/late.tif",)
    [still] = decide(world, grace=600, clock=lambda: start + timedelta(seconds=599))
    assert isinstance(still, Waiting)
    [late] = decide(world, grace=600, clock=lambda: start + timedelta(seconds=601))
    assert isinstance(late, Rejection)
    assert [(p.loc, p.code) for p in late.problems] == [("files[0].path", "file_missing")]
    assert "600 s after the manifest was committed" in late.problems[0].message
    batch = world.ledger.get_batch("b4")
    assert batch is not None
    assert batch.status == "rejected"


@pytest.mark.gdal
def test_a_file_arriving_within_the_grace_period_lets_it_run(
    world: World, make_raster: Callable[..., Path]
) -> None:
    commit(
        world,
        manifest(
            "b5",
            "ingest_satellite_raster",
            [raster_file("s3://landing-zone/b5/a.tif", "EPSG:4326")],
        ),
    )
    [first] = decide(world, grace=600)
    assert isinstance(first, Waiting)
    world.upload("b5", make_raster("a.tif"))
    [then] = decide(world, grace=600)
    assert isinstance(then, RunTicket)


@pytest.mark.gdal
def test_reuploaded_manifest_is_a_new_request(
    world: World, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("b6", make_raster("a.tif"))
    document = manifest("b6", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    commit(world, document)
    [first] = decide(world)
    time.sleep(1.1)  # S3 modification times have one-second resolution
    commit(world, document)  # identical bytes: same ETag, new upload
    [second] = decide(world)
    assert isinstance(first, RunTicket)
    assert isinstance(second, RunTicket)
    assert first.ref.etag == second.ref.etag
    assert first.ref.run_key != second.ref.run_key


def test_a_new_manifest_for_a_running_batch_waits_for_its_run(world: World) -> None:
    commit(
        world,
        manifest("b7", "ingest_satellite_raster", [raster_file("s3://landing-zone/b7/a.tif")]),
    )
    decide(world, grace=600)
    world.ledger.acquire_batch("b7", "r1")
    changed = manifest("b7", "ingest_satellite_raster", [raster_file("s3://landing-zone/b7/b.tif")])
    commit(world, changed)
    [decision] = decide(world, grace=600, is_run_alive=lambda run_id: True)
    assert isinstance(decision, Deferred)
    assert "being processed by run r1" in decision.reason
    batch = world.ledger.get_batch("b7")
    assert batch is not None
    assert batch.status == "running"  # the running batch's record is untouched
    assert batch.lease is not None
    assert batch.lease.run_id == "r1"
    assert [r.key for r in pending_manifests(world.store)] == ["manifests/b7.json"]


def test_pending_listing_pages_through_1500_manifests_and_skips_sub_folders(world: World) -> None:
    bucket = world.store.settings.landing_bucket
    keys = [f"manifests/m{i:05d}.json" for i in range(1500)]

    def put(key: str) -> None:
        world.store.client.put_object(Bucket=bucket, Key=key, Body=b"{}")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, [*keys, "manifests/processed/old.json", "manifests/readme.txt"]))
    everything = pending_manifests(world.store)
    assert [r.key for r in everything] == keys
    first = pending_manifests(world.store, limit=100)
    assert [r.key for r in first] == keys[:100]
    rest = pending_manifests(world.store, start_after=first[-1].key, limit=2000)
    assert [r.key for r in rest] == keys[100:]


@pytest.mark.gdal
def test_settle_moves_the_manifest_and_records_the_outcome(
    world: World, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("b8", make_raster("a.tif"))
    commit(world, manifest("b8", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")]))
    commit(
        world,
        manifest(
            "b9", "ingest_satellite_raster", [raster_file(path.replace("b8", "b9"), "EPSG:4326")]
        ),
    )
    world.upload("b9", make_raster("a.tif", crs="EPSG:3857", bounds=(0, 0, 640, 480)))
    tickets = decide(world)
    outcomes = {}
    for ticket in tickets:
        assert isinstance(ticket, RunTicket)
        run_id = f"run-{uuid.uuid4()}"
        world.ledger.update_batch_status(ticket.manifest.batch_id, "running", run_id=run_id)
        report = execute_run(run_id, ticket.manifest, world.platform)
        outcomes[ticket.manifest.batch_id] = settle(ticket.ref, report, world.platform)
    assert outcomes == {"b8": f"{PROCESSED}b8.json", "b9": f"{FAILED}b9.json"}
    assert pending_manifests(world.store) == []
    failure = report_of(world, f"{FAILED}b9.report.json")
    assert failure["status"] == "failed"
    assert "differs from the manifest's crs" in failure["error"]["message"]
    assert [world.ledger.get_batch(b).status for b in ("b8", "b9")] == ["succeeded", "failed"]  # type: ignore[union-attr]


@pytest.mark.parametrize(("alive", "expected"), [(False, Waiting), (True, Deferred)])
def test_reupload_retries_a_batch_whose_run_died(world: World, alive: bool, expected: type) -> None:
    first = manifest("b10", "ingest_satellite_raster", [raster_file("s3://landing-zone/b10/a.tif")])
    commit(world, first)
    decide(world, grace=600)
    world.ledger.update_batch_status("b10", "running", run_id="killed-run")
    second = manifest(
        "b10", "ingest_satellite_raster", [raster_file("s3://landing-zone/b10/a.tif")], note="retry"
    )
    commit(world, second)  # new bytes, new ETag
    [ref] = pending_manifests(world.store)
    decision = examine(ref, world.platform, grace_period_s=600, is_run_alive=lambda run_id: alive)
    if expected is Deferred:
        assert isinstance(decision, Deferred)
        assert world.ledger.get_batch("b10").status == "running"  # type: ignore[union-attr]
    else:
        assert isinstance(decision, Waiting)  # its file is not uploaded: it waits, as a new batch
        batch = world.ledger.get_batch("b10")
        assert batch is not None
        assert (batch.status, batch.manifest_etag) == ("received", decision.ref.etag)
