"""Helpers of the Dagster adapter's tests: real resources pointed at the test services.

Only the ledger is mongomock (no MongoDB here), swapped in through ``LedgerResource.ledger``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from spatial_etl.models.ledger import PluginRecord, RunDocument, WorkerRecord
from spatial_etl_dagster import (
    GDALResource,
    IntakeResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)
from support import World, make_world


@contextmanager
def dagster_world(
    postgis_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[World]:
    """A test world whose ledger the Dagster ``LedgerResource`` hands out."""
    with make_world(postgis_dsn, tmp_path) as made:
        monkeypatch.setattr(LedgerResource, "ledger", lambda self: made.ledger)
        yield made


def resources(world: World, postgis_dsn: str) -> dict[str, Any]:
    settings = world.store.settings
    return {
        "gdal": GDALResource.with_settings(gdal_timeout_s=120),
        "minio": MinIOResource.with_settings(
            s3_endpoint_url=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
            s3_access_key_id="testing",
            s3_secret_access_key="testing",
            landing_bucket=settings.landing_bucket,
            lake_bucket=settings.lake_bucket,
        ),
        "postgis": PostGISResource.with_settings(postgis_dsn=postgis_dsn),
        "ledger": LedgerResource.with_settings(mongodb_uri="mongodb://unused"),
        "intake": IntakeResource(),
    }


def commit(world: World, name: str, body: str) -> None:
    world.store.put_bytes(
        world.store.settings.landing_bucket, f"manifests/{name}.json", body.encode(), metadata={}
    )


def keys(world: World) -> list[str]:
    bucket = world.store.settings.landing_bucket
    return [o.key for o in world.store.iter_objects(bucket, "manifests/")]


def running_run(run_id: str, batch_id: str, worker: WorkerRecord | None = None) -> RunDocument:
    """The ledger record of a raster run that started and has not finished."""
    return RunDocument(
        run_id=run_id,
        batch_id=batch_id,
        intent="ingest_satellite_raster",
        plugin=PluginRecord(name="satellite_raster", distribution=None, version=None),
        status="running",
        started_at=datetime.now(UTC),
        finished_at=None,
        error=None,
        inputs=[],
        outputs=[],
        timings={},
        versions={},
        worker=worker,
    )
