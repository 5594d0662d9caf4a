"""Valid ledger documents to build tests on: a batch, a run, a vector and a raster asset.

An asset's ``iso19115.extent`` follows its ``bbox_wgs84`` (the models require them equal), so
a test changes the bbox alone. ``catalogued`` gives an asset the provenance and metadata
sidecars the publisher records.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from spatial_etl.models import Problem
from spatial_etl.models import ledger as ledger_models
from spatial_etl.models.ledger import (
    AssetDocument,
    BatchDocument,
    InputRecord,
    Provenance,
    RasterFacts,
    RunDocument,
    Sidecar,
    new_asset_id,
)
from spatial_etl.models.plugin import PluginInfo

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64
RUN_ID = "0f2c4e1a-5b6d-4c8e-9a7b-3d2e1f0a9b8c"
PLUGIN = PluginInfo(
    name="vector_boundary",
    distribution="spatial-etl-vector-boundary",
    version="0.1.0",
    module="spatial_etl_vector_boundary.plugin",
)


def input_record(name: str = "boundaries.gpkg", sha: str = SHA_A) -> InputRecord:
    key = f"batch_01/{name}"
    return InputRecord(
        path=f"s3://landing-zone/{key}", bucket="landing-zone", key=key, sha256=sha, size=52_000_000
    )


def batch(**changes: Any) -> BatchDocument:
    values: dict[str, Any] = {
        "batch_id": "batch_01",
        "manifest_key": "manifests/batch_01.json",
        "manifest_etag": '"9b2cf535f27731c974343645a3985328"',
        "manifest_sha256": SHA_A,
        "uploader": "alice",
        "intent": "ingest_vector_boundary",
        "status": "received",
        "problems": [],
        "received_at": T0,
        "updated_at": T0,
        "run_ids": [],
        "manifest": {
            "batch_id": "batch_01",
            "uploader": "alice",
            "intent": "ingest_vector_boundary",
            "files": [
                {
                    "path": "s3://landing-zone/batch_01/boundaries.gpkg",
                    "type": "vector",
                    "format": "GPKG",
                    "crs": "EPSG:4326",
                }
            ],
            "metadata": {"project": "cadastre", "description": "Districts", "year": 2024},
        },
    }
    return BatchDocument(**{**values, **changes})


def rejected_batch() -> BatchDocument:
    problems = [Problem(loc="", code="invalid_json", message="not valid JSON: line 1")]
    return batch(status="rejected", problems=problems, manifest=None, uploader=None, intent=None)


def run(**changes: Any) -> RunDocument:
    values: dict[str, Any] = {
        "run_id": RUN_ID,
        "batch_id": "batch_01",
        "intent": "ingest_vector_boundary",
        "plugin": ledger_models.PluginRecord.from_info(PLUGIN),
        "status": "running",
        "started_at": T0,
        "finished_at": None,
        "error": None,
        "inputs": [input_record()],
        "outputs": [],
        "timings": {"stage": 1.5},
        "versions": {"gdal": "3.6.2", "postgis": "3.3.2", "spatial-etl": "0.1.0"},
    }
    return RunDocument(**{**values, **changes})


def vector_asset(**changes: Any) -> AssetDocument:
    asset_id = changes.pop("asset_id", None) or new_asset_id()
    version = changes.get("version", 1)
    key = (
        changes.pop("s3_key", None)
        or f"ingest_vector_boundary/districts/v{version}/{asset_id}.parquet"
    )
    values: dict[str, Any] = {
        "asset_id": asset_id,
        "status": "pending",
        "intent": "ingest_vector_boundary",
        "dataset": "districts",
        "version": version,
        "bucket": "data-lake",
        "s3_key": key,
        # one content per version: the ledger refuses the same content twice in a dataset
        "sha256": SHA_B if version == 1 else hashlib.sha256(f"v{version}".encode()).hexdigest(),
        "size": 12_345_678,
        "format": "GeoParquet",
        "crs": "EPSG:4326",
        "bbox_wgs84": (5.9, 45.8, 10.5, 47.8),
        "feature_count": 2_148,
        "raster": None,
        "columns": [{"name": "name", "type": "string"}, {"name": "geometry", "type": "binary"}],
        "run_id": RUN_ID,
        "batch_id": "batch_01",
        "plugin": ledger_models.PluginRecord.from_info(PLUGIN),
        "inputs": [input_record()],
        "parameters": {"target_crs": "EPSG:4326", "simplify": None, "layers": ["a", "b"]},
        "duplicate_of": None,
        "iso19115": {
            "title": "districts v1",
            "abstract": "Districts",
            "extent": {"west": 5.9, "south": 45.8, "east": 10.5, "north": 47.8},
            "reference_system": "EPSG:4326",
            "lineage": {
                "statement": "Loaded boundaries.gpkg with ingest_vector_boundary.",
                "steps": ["load: ogr2ogr into PostGIS", "export: GeoParquet"],
            },
            "distribution": {"format": "GeoParquet", "s3_uri": f"s3://data-lake/{key}"},
        },
        "created_at": T0,
        "committed_at": None,
    }
    return AssetDocument(**_with_extent({**values, **changes}))


def _with_extent(values: dict[str, Any]) -> dict[str, Any]:
    """The values with ``iso19115.extent`` set from ``bbox_wgs84``."""
    box = values["bbox_wgs84"]
    extent = (
        None if box is None else dict(zip(("west", "south", "east", "north"), box, strict=True))
    )
    iso = values["iso19115"]
    iso = iso.model_dump() if not isinstance(iso, dict) else dict(iso)
    return {**values, "iso19115": {**iso, "extent": extent}}


def catalogued(
    asset: AssetDocument, *, project: str | None = "cadastre", description: str | None = "Districts"
) -> AssetDocument:
    """The asset with the provenance and the three metadata sidecars a publish records."""
    folder = asset.s3_key.rsplit("/", 1)[0]
    sidecars = [
        Sidecar(
            role=role,
            key=f"{folder}/{name}",
            sha256=hashlib.sha256(name.encode()).hexdigest(),
            size=1_000,
            media_type=media,
        )
        for role, name, media in (
            ("stac_item", "item.json", "application/geo+json"),
            ("iso19139", f"{asset.dataset}.iso19139.xml", "application/xml"),
            ("thumbnail", f"{asset.dataset}.png", "image/png"),
        )
    ]
    provenance = Provenance(project=project, uploader="alice", description=description)
    return asset.model_copy(update={"provenance": provenance, "sidecars": sidecars})


def raster_asset(**changes: Any) -> AssetDocument:
    asset = vector_asset()
    key = f"ingest_satellite_raster/scene/v1/{asset.asset_id}.tif"
    values = asset.model_dump(by_alias=False) | {
        "intent": "ingest_satellite_raster",
        "dataset": "scene",
        "s3_key": key,
        "format": "COG",
        "crs": "EPSG:32633",
        "bbox_wgs84": (179.5, -10.0, -179.5, -9.0),  # crosses the antimeridian
        "feature_count": None,
        "columns": [],
        "raster": RasterFacts(
            width=8000, height=8000, bands=3, dtype="Float32", nodata=float("nan")
        ),
    }
    values["iso19115"]["distribution"] = {"format": "COG", "s3_uri": f"s3://data-lake/{key}"}
    return AssetDocument(**_with_extent({**values, **changes}))
