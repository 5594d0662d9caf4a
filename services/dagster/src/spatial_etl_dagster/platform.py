"""Assemble the core's ``Platform`` from the Dagster resources of a sensor tick or an op."""

from __future__ import annotations

from spatial_etl.plugins.loading import load_plugins
from spatial_etl.run.executor import Platform

from spatial_etl_dagster.resources import (
    GDALResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)


def build_platform(
    gdal: GDALResource,
    minio: MinIOResource,
    ledger: LedgerResource,
    postgis: PostGISResource | None = None,
) -> Platform:
    """The services of one run (or of one sensor tick, which needs no compute)."""
    return Platform(
        store=minio.store(),
        ledger=ledger.ledger(),
        runner=gdal.runner(),
        catalog=load_plugins(),
        compute=postgis.compute() if postgis is not None else None,
    )
