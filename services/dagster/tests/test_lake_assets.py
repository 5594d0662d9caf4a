"""Runs as the Dagster UI shows them: versions as partitions of lake/<intent>, steps, failures.

Real S3 (moto's server), PostGIS and GDAL; the ledger is mongomock (``dagster_support``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster_support import commit, dagster_world, resources
from spatial_etl.steps.gdal import GdalKind
from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.sensor import manifest_sensor
from support import UTM_SQUARE, World, manifest, raster_file, vector_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]


@pytest.fixture
def world(postgis_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with dagster_world(postgis_dsn, tmp_path, monkeypatch) as made:
        yield made


def _run(world: World, postgis_dsn: str, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    context = dg.build_sensor_context(resources=resources(world, postgis_dsn))
    result = manifest_sensor(context)
    assert isinstance(result, dg.SensorResult)
    [request] = result.run_requests or []
    return ingest_job.execute_in_process(
        run_config=request.run_config,
        resources=resources(world, postgis_dsn),
        tags=request.tags,
        instance=instance,
        raise_on_error=False,
    )


def _observations(result: dg.ExecuteInProcessResult, kind: str) -> list[dg.AssetObservation]:
    """The run's observations of ``lake/...`` or ``landing/...`` assets."""
    found = result.asset_observations_for_node("ingest_manifest")
    return [o for o in found if o.asset_key.path[0] == kind]


def _values(metadata: Any) -> dict[str, Any]:
    return {name: value.value for name, value in metadata.items()}


def test_a_vector_version_is_a_partition_of_its_intent_with_its_schema_and_steps(
    world: World, postgis_dsn: str, make_vector: Callable[..., Path]
) -> None:
    gpkg = make_vector("zones.gpkg", [{"wkt": UTM_SQUARE, "name": "a"}], crs="EPSG:32633")
    path = world.upload("zones_1", gpkg)
    document = manifest(
        "zones_1", "ingest_vector_boundary", [vector_file(path, "GPKG")], dataset="zones"
    )
    commit(world, "zones_1", json.dumps(document))
    instance = dg.DagsterInstance.ephemeral()
    result = _run(world, postgis_dsn, instance)
    assert result.success
    asset = world.ledger.latest_committed("ingest_vector_boundary", "zones")
    assert asset is not None
    key = dg.AssetKey(["lake", "ingest_vector_boundary"])
    assert instance.get_dynamic_partitions("lake_ingest_vector_boundary") == ["zones"]
    [materialization] = result.asset_materializations_for_node("ingest_manifest")
    assert (materialization.asset_key, materialization.partition) == (key, "zones")
    metadata = materialization.metadata
    assert metadata["crs"].value == asset.crs == "EPSG:4326"
    assert metadata["ledger_id"].value == asset.asset_id
    assert metadata["version"].value == 1
    assert metadata["s3_uri"].value == f"s3://{asset.bucket}/{asset.s3_key}"
    assert metadata["feature_count"].value == 1
    lake = f"s3://{asset.bucket}/"
    assert metadata["stac_item"].value == lake + "stac/ingest_vector_boundary/zones/v1.json"
    assert metadata["iso19139_record"].value == lake + asset.s3_key.replace(
        ".parquet", ".iso19139.xml"
    )
    assert metadata["quicklook"].value == lake + asset.s3_key.replace(".parquet", ".png")
    schema = metadata["dagster/column_schema"].value
    assert isinstance(schema, dg.TableSchema)
    assert [column.name for column in schema.columns] == [c.name for c in asset.columns]
    assert "name" in [column.name for column in schema.columns]
    # each plugin step that ran, with its duration, on the dataset it made
    steps = [
        _values(o.metadata)
        for o in result.asset_observations_for_node("ingest_manifest")
        if o.asset_key == key and o.partition == "zones"
    ]
    assert [(s["step"], s["kind"], s["status"]) for s in steps] == [
        ("load", "gdal", "succeeded"),
        ("require_polygons", "sql_check", "succeeded"),
        ("normalise", "rewrite", "succeeded"),
        ("export", "export", "succeeded"),
    ]
    assert all(s["duration_s"] >= 0 and s["file"] == path for s in steps)
    assert all(s["dataset"] == "zones" for s in steps)
    # the batch it read, observed on the landing asset upstream
    [landing] = _observations(result, "landing")
    assert landing.asset_key == dg.AssetKey(["landing", "ingest_vector_boundary"])
    assert landing.metadata["batch_id"].value == "zones_1"
    inputs = landing.metadata["inputs"]
    assert isinstance(inputs, dg.TableMetadataValue)
    assert [r.data["sha256"] for r in inputs.records] == [i.sha256 for i in asset.inputs]
    # the materialization comes last: the steps happened before the version existed
    kinds = [
        e.event_type_value
        for e in result.all_node_events
        if e.event_type_value in {"ASSET_OBSERVATION", "ASSET_MATERIALIZATION"}
    ]
    assert kinds == ["ASSET_OBSERVATION"] * 5 + ["ASSET_MATERIALIZATION"]


def test_an_unchanged_upload_is_an_observation_naming_the_version_it_reproduces(
    world: World, postgis_dsn: str, make_raster: Callable[..., Path]
) -> None:
    raster = make_raster("scene.tif")
    path = world.upload("scene_1", raster)
    commit(
        world,
        "scene_1",
        json.dumps(
            manifest("scene_1", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
        ),
    )
    instance = dg.DagsterInstance.ephemeral()
    first = _run(world, postgis_dsn, instance)
    assert first.success
    [version] = first.asset_materializations_for_node("ingest_manifest")
    assert (version.partition, version.metadata["width"].value) == ("scene", 64)
    again_path = world.upload("scene_2", raster)  # the same bytes, uploaded again
    commit(
        world,
        "scene_2",
        json.dumps(
            manifest("scene_2", "ingest_satellite_raster", [raster_file(again_path, "EPSG:4326")])
        ),
    )
    again = _run(world, postgis_dsn, instance)
    assert again.success
    assert again.asset_materializations_for_node("ingest_manifest") == []  # the lake is unchanged
    [duplicate] = _observations(again, "lake")
    assert duplicate.partition == "scene"
    assert duplicate.metadata["reproduced_version"].value == 1
    assert duplicate.metadata["status"].value == "duplicate"
    assert duplicate.metadata["duplicate_of"].value == version.metadata["ledger_id"].value


def test_a_failed_run_names_the_step_and_file_even_for_a_plain_python_error(
    world: World,
    postgis_dsn: str,
    make_raster: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: GdalKind, planned: object, context: object) -> None:
        raise KeyError("coordinateSystem")  # a bug below a step, not a platform error

    monkeypatch.setattr(GdalKind, "execute", broken)
    path = world.upload("warp_1", make_raster("warp.tif"))
    document = manifest(
        "warp_1",
        "ingest_satellite_raster",
        [raster_file(path, "EPSG:4326")],
        parameters={"target_crs": "EPSG:3857"},
    )
    commit(world, "warp_1", json.dumps(document))
    result = _run(world, postgis_dsn, dg.DagsterInstance.ephemeral())
    assert not result.success
    failure = result.failure_data_for_node("ingest_manifest")
    assert failure is not None and failure.user_failure_data is not None
    assert _values(failure.user_failure_data.metadata) == {
        "type": "KeyError",
        "step": "reproject",
        "file": path,
        "batch_id": "warp_1",
        "intent": "ingest_satellite_raster",
    }
    # the failed step is an observation of the intent's asset as a whole (no version made)
    [step] = _observations(result, "lake")
    assert step.partition is None
    assert _values(step.metadata)["status"] == "failed"
    assert _values(step.metadata)["error"] == "'coordinateSystem'"
    run = world.ledger.get_run(result.run_id)
    assert run is not None and run.error is not None
    assert (run.error.step, run.error.file) == ("reproject", path)


def test_a_ledger_that_cannot_be_read_after_the_run_costs_only_the_full_metadata(
    world: World,
    postgis_dsn: str,
    make_raster: Callable[..., Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = world.upload("dark_1", make_raster("dark.tif"))
    commit(
        world,
        "dark_1",
        json.dumps(manifest("dark_1", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])),
    )

    def unreachable(asset_id: str) -> None:
        raise ConnectionResetError(104, "reset")

    monkeypatch.setattr(world.ledger, "get_asset", unreachable)
    result = _run(world, postgis_dsn, dg.DagsterInstance.ephemeral())
    assert result.success  # the run is recorded and settled: reporting never fails it
    [version] = result.asset_materializations_for_node("ingest_manifest")
    asset = world.ledger.latest_committed("ingest_satellite_raster", "dark")
    assert asset is not None
    assert version.partition == "dark"
    assert _values(version.metadata) == {
        "dataset": "dark",
        "ledger_id": asset.asset_id,
        "version": 1,
        "status": "committed",
        "s3_uri": f"s3://{asset.bucket}/{asset.s3_key}",
        "sha256": asset.sha256,
    }
