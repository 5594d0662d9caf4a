"""The lake as Dagster assets, and what the UI shows of a version, a step and a rejection.

No service here: the specs come from the installed plugins, the metadata from ledger
documents built in memory, the rejection's run from its config alone.
"""

from __future__ import annotations

import json
import subprocess
import sys

import dagster as dg
import pytest
from ledger_documents import T0, raster_asset, vector_asset
from spatial_etl.models.ledger import Provenance, Sidecar
from spatial_etl.models.problems import Problem
from spatial_etl.run.intake import ManifestRef, Rejection
from spatial_etl.run.step_events import StepEvent
from spatial_etl_dagster.asset_metadata import (
    duplicate_metadata,
    step_metadata,
    version_metadata,
)
from spatial_etl_dagster.catalog import lake_key, landing_key
from spatial_etl_dagster.definitions import build_definitions, defs
from spatial_etl_dagster.job import partition_key
from spatial_etl_dagster.reject import reject_manifest, rejection_request

SHIPPED = [
    "ingest_raster_mosaic",
    "ingest_satellite_raster",
    "ingest_vector_boundary",
    "ingest_vector_features",
]


def test_each_installed_intent_is_a_landing_asset_feeding_a_partitioned_lake_asset() -> None:
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    assert sorted(key.path[1] for key in graph.get_all_asset_keys() if key.path[0] == "lake") == (
        SHIPPED
    )
    for intent in SHIPPED:
        lake = graph.get(lake_key(intent))
        landing = graph.get(landing_key(intent))
        assert lake.parent_keys == {landing_key(intent)}  # lineage: landing -> lake
        assert (lake.group_name, landing.group_name) == (intent, intent)
        partitions = lake.partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition)
        assert partitions.name == f"lake_{intent}"
    assert {job.name for job in definitions.jobs or []} == {"ingest_job", "reject_manifest"}  # type: ignore[union-attr]
    assert {sensor.name for sensor in definitions.sensors or []} == {  # type: ignore[union-attr]
        "manifest_sensor",
        "reconcile_sensor",
    }


def test_without_plugins_the_definitions_still_load_with_no_asset() -> None:
    definitions = build_definitions([])
    assert list(definitions.resolve_asset_graph().get_all_asset_keys()) == []
    assert definitions.get_job_def("ingest_job").name == "ingest_job"


def test_importing_the_definitions_loads_no_plugin() -> None:
    code = (
        "import sys, spatial_etl_dagster.definitions as d\n"
        "print(sorted(m for m in sys.modules if m.startswith('spatial_etl_') and "
        "not m.startswith('spatial_etl_dagster')))\n"
        "print(sorted(d.__dict__).count('defs'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    loaded, has_defs = done.stdout.splitlines()
    assert json.loads(loaded.replace("'", '"')) == []
    assert has_defs == "1"


def test_a_vector_version_shows_its_crs_columns_provenance_and_sidecars() -> None:
    doc = vector_asset(
        status="committed",
        committed_at=T0,
        provenance=Provenance(project="ALPHA", uploader="alice", description="Districts"),
        sidecars=[
            Sidecar(
                role="stac_item",
                key="ingest_vector_boundary/districts/v1/districts.stac.json",
                sha256="c" * 64,
                size=900,
                media_type="application/geo+json",
            ),
            Sidecar(
                role="iso19139",
                key="ingest_vector_boundary/districts/v1/districts.iso19139.xml",
                sha256="d" * 64,
                size=4000,
                media_type="application/xml",
            ),
        ],
    )
    metadata = version_metadata(doc)
    assert metadata["crs"].value == "EPSG:4326"
    assert metadata["format"].value == "GeoParquet"
    assert metadata["ledger_id"].value == doc.asset_id
    assert metadata["version"].value == 1
    assert metadata["sha256"].value == doc.sha256
    assert metadata["size_bytes"].value == 12_345_678
    assert metadata["s3_uri"].value == f"s3://data-lake/{doc.s3_key}"
    assert metadata["feature_count"].value == 2_148
    assert metadata["bbox_wgs84"].value == [5.9, 45.8, 10.5, 47.8]
    schema = metadata["dagster/column_schema"].value
    assert isinstance(schema, dg.TableSchema)
    assert [(c.name, c.type) for c in schema.columns] == [
        ("name", "string"),
        ("geometry", "binary"),
    ]
    assert (metadata["project"].value, metadata["uploader"].value) == ("ALPHA", "alice")
    assert metadata["description"].value == "Districts"
    assert metadata["stac_item"].value == (
        "s3://data-lake/ingest_vector_boundary/districts/v1/districts.stac.json"
    )
    assert metadata["iso19139_record"].value == (
        "s3://data-lake/ingest_vector_boundary/districts/v1/districts.iso19139.xml"
    )
    assert "quicklook" not in metadata  # no thumbnail sidecar: no key
    assert "width" not in metadata


def test_a_raster_version_shows_its_grid_and_nodata() -> None:
    metadata = version_metadata(raster_asset(status="committed", committed_at=T0))
    shown = {name: metadata[name].value for name in ("width", "height", "bands", "dtype")}
    assert shown == {"width": 8000, "height": 8000, "bands": 3, "dtype": "Float32"}
    assert metadata["nodata"].value == "nan"
    assert metadata["crs"].value == "EPSG:32633"
    assert "dagster/column_schema" not in metadata
    assert "project" not in metadata  # an older version without provenance


def test_a_duplicate_names_the_version_it_reproduced() -> None:
    original = vector_asset(status="committed", committed_at=T0, version=3)
    duplicate = original.model_copy(
        update={
            "asset_id": "0" * 24,
            "status": "duplicate",
            "duplicate_of": original.asset_id,
            "committed_at": None,
        }
    )
    metadata = duplicate_metadata(duplicate)
    assert metadata["reproduced_version"].value == 3
    assert metadata["duplicate_of"].value == original.asset_id
    assert metadata["status"].value == "duplicate"
    assert metadata["ledger_id"].value == "0" * 24


def test_a_step_shows_its_kind_duration_and_error() -> None:
    event = StepEvent(
        step="normalise",
        kind="sql",
        dataset="districts",
        file="s3://landing-zone/b/d.gpkg",
        status="failed",
        seconds=1.23456,
        error="boom",
    )
    metadata = step_metadata(event)
    assert {name: value.value for name, value in metadata.items()} == {
        "step": "normalise",
        "kind": "sql",
        "status": "failed",
        "duration_s": 1.235,
        "file": "s3://landing-zone/b/d.gpkg",
        "dataset": "districts",
        "error": "boom",
    }


def test_a_rejection_runs_as_a_failed_run_listing_each_problem_with_its_location() -> None:
    problems = tuple(
        Problem(loc=f"files[{i}].path", code="outside_batch", message=f"file {i} is elsewhere")
        for i in range(60)
    )
    rejection = Rejection(
        ref=ManifestRef(key="manifests/roads.json", etag='"e1"'),
        report_key="manifests/rejected/roads.report.json",
        problems=(
            Problem(loc="intent", code="unknown_intent", message="no such intent"),
            *problems,
        ),
    )
    request = rejection_request(rejection, "landing-zone")
    assert request.run_key == 'rejected@manifests/roads.json@"e1"@-'
    assert request.job_name == "reject_manifest"
    assert request.tags == {
        "spatial_etl/batch_id": "roads",
        "spatial_etl/manifest_key": "manifests/roads.json",
        "spatial_etl/status": "rejected",
    }
    result = reject_manifest.execute_in_process(
        run_config=request.run_config, tags=request.tags, raise_on_error=False
    )
    assert not result.success
    failure = result.failure_data_for_node("report_rejection")
    assert failure is not None and failure.user_failure_data is not None
    description = failure.user_failure_data.description or ""
    assert description.startswith(
        "manifests/roads.json was rejected (61 problem(s)): intent: no such intent; "
        "files[0].path: file 0 is elsewhere"
    )
    assert description.endswith("and 56 more (see the report)")
    metadata = failure.user_failure_data.metadata
    table = metadata["problems"]
    assert isinstance(table, dg.TableMetadataValue)
    records = table.records
    assert len(records) == 50  # the config carries the first 50; the report has them all
    assert records[0].data == {
        "loc": "intent",
        "code": "unknown_intent",
        "message": "no such intent",
    }
    assert metadata["problem_count"].value == 61
    assert metadata["report"].value == "s3://landing-zone/manifests/rejected/roads.report.json"
    assert metadata["manifest"].value == "s3://landing-zone/manifests/rejected/roads.json"
    assert result.dagster_run.tags["spatial_etl/status"] == "rejected"


@pytest.mark.parametrize("name", ["ingest_job", "reject_manifest"])
def test_the_jobs_keep_their_names(name: str) -> None:
    assert defs().get_job_def(name).name == name


def test_a_dataset_name_dagster_refuses_as_a_partition_key_is_reported_without_one() -> None:
    assert partition_key("roads.v2-final") == "roads.v2-final"
    assert partition_key("roads...final") is None  # valid dataset name, invalid partition key
    with pytest.raises(dg.DagsterInvalidDefinitionError, match="invalid substrings"):
        dg.StaticPartitionsDefinition(["roads...final"])  # "..." is the UI's range syntax
