"""One bad manifest is that manifest's problem only: the sensor rejects each poison manifest
with a report beside it and requests the valid batch in the same tick, on real S3 and PostGIS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_support import commit, dagster_world, keys, resources
from invariants import assert_converged
from spatial_etl.run.intake import REJECTED, RunTicket, examine, pending_manifests
from spatial_etl.run.reconcile import reconcile
from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.sensor import manifest_sensor
from support import World, manifest, raster_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]


@pytest.fixture
def world(postgis_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with dagster_world(postgis_dsn, tmp_path, monkeypatch) as made:
        yield made


def _document(batch: str, **metadata: Any) -> dict[str, Any]:
    return manifest(
        batch,
        "ingest_satellite_raster",
        [raster_file(f"s3://landing-zone/{batch}/a.tif")],
        **metadata,
    )


POISON: dict[str, tuple[bytes, str]] = {
    "too_large": (b'{"pad": "' + b"x" * (1 << 20) + b'"}', "too_large"),
    "with_nan": (
        json.dumps(_document("with_nan")).replace('"tests"', "NaN", 1).encode(),
        "invalid_json",
    ),
    "with_infinity": (
        json.dumps(_document("with_infinity", ratio=1.5)).replace("1.5", "Infinity").encode(),
        "invalid_json",
    ),
    "deep": (b"[" * 100_000 + b"]" * 100_000, "too_deep"),
    "array": (b"[1, 2, 3]", "not_an_object"),
    "latin1": ('{"batch_id": "latin1", "uploader": "J\xfcrgen"}'.encode("latin-1"), "invalid_json"),
    "many_files": (
        json.dumps(
            manifest(
                "many_files",
                "ingest_satellite_raster",
                [raster_file(f"s3://landing-zone/many_files/{i}.tif") for i in range(10_001)],
            ),
            separators=(",", ":"),  # compact: 10,001 entries within the 1 MiB cap
        ).encode(),
        "too_many_files",
    ),
}


def test_poison_manifests_are_rejected_and_the_valid_one_runs(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    path = world.upload("good", make_raster("a.tif"))
    commit(
        world,
        "good",
        json.dumps(manifest("good", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])),
    )
    bucket = world.store.settings.landing_bucket
    for name, (body, _) in POISON.items():
        world.store.client.put_object(Bucket=bucket, Key=f"manifests/{name}.json", Body=body)
    context = dg.build_sensor_context(resources=resources(world, postgis_dsn))
    result = manifest_sensor(context)
    assert isinstance(result, dg.SensorResult)
    [request] = [r for r in result.run_requests or [] if r.job_name == "ingest_job"]
    assert request.tags["spatial_etl/batch_id"] == "good"
    shown = [r for r in result.run_requests or [] if r.job_name == "reject_manifest"]
    assert sorted(r.tags["spatial_etl/batch_id"] for r in shown) == sorted(POISON)
    expected = {"manifests/good.json"}
    for name in POISON:
        expected |= {f"{REJECTED}{name}.json", f"{REJECTED}{name}.report.json"}
    assert set(keys(world)) == expected
    for name, (_, code) in POISON.items():
        data, _ = world.store.get_bytes(bucket, f"{REJECTED}{name}.report.json")
        report = json.loads(data)
        assert [p["code"] for p in report["problems"]] == [code], name
        batch = world.ledger.get_batch(name)
        assert batch is not None, name
        assert batch.status == "rejected", name
        assert batch.problems[0].code == code
    too_large = world.ledger.get_batch("too_large")
    assert too_large is not None
    assert too_large.manifest_sha256 is None  # rejected unread
    assert "SPATIAL_ETL_MANIFEST_MAX_BYTES" in too_large.problems[0].message
    many = world.ledger.get_batch("many_files")
    assert many is not None
    assert "10001 files" in many.problems[0].message
    # the valid batch runs and publishes one version; everything converges
    run = ingest_job.execute_in_process(
        run_config=request.run_config, resources=resources(world, postgis_dsn), tags=request.tags
    )
    assert run.success
    reconcile(world.platform, is_run_alive=lambda _: False)
    assert_converged(world.platform, batches=["good", *POISON])
    assert [(d.batch_id, d.version) for d in world.ledger.list_assets(latest_only=False)] == [
        ("good", 1)
    ]
    # a corrected manifest replaces a rejected one
    fixed = _document("with_nan")
    fixed["files"] = [raster_file("s3://landing-zone/with_nan/a.tif", "EPSG:4326")]
    world.upload("with_nan", make_raster("a.tif"))
    commit(world, "with_nan", json.dumps(fixed))
    [retry] = manifest_sensor(
        dg.build_sensor_context(resources=resources(world, postgis_dsn))
    ).run_requests  # type: ignore[union-attr]
    assert retry.tags["spatial_etl/batch_id"] == "with_nan"


def test_a_manifest_of_8000_files_is_examined_with_one_listing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = world.store.settings.landing_bucket
    files = [raster_file(f"s3://landing-zone/big/t{i:04d}.tif", "EPSG:4326") for i in range(8000)]
    for index in range(0, 8000, 1000):  # a few real objects; the rest are missing
        world.store.client.put_object(Bucket=bucket, Key=f"big/t{index:04d}.tif", Body=b"x")
    commit(world, "big", json.dumps(manifest("big", "ingest_satellite_raster", files)))
    heads: list[str] = []
    original = world.store.head
    monkeypatch.setattr(world.store, "head", lambda b, k: heads.append(k) or original(b, k))
    [ref] = pending_manifests(world.store)
    decision = examine(ref, world.platform, grace_period_s=600)
    assert not isinstance(decision, RunTicket)
    assert decision.missing[:2] == (  # type: ignore[union-attr]
        "s3://landing-zone/big/t0001.tif",
        "s3://landing-zone/big/t0002.tif",
    )
    assert len(decision.missing) == 7992  # type: ignore[union-attr]
    assert heads == []  # one listing of big/ (8 pages), not a HEAD per file (70 s before)
