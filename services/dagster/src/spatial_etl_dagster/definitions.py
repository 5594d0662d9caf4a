"""The one ``Definitions`` object that ``dagster dev`` and the code-location server load.

Every setting comes from the environment (``.env`` in Compose) through ``EnvVar``; the
variables are documented in ``.env.example``.
"""

from __future__ import annotations

import dagster as dg

from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.resources import (
    GDALResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)
from spatial_etl_dagster.sensor import manifest_sensor, reconcile_sensor

defs = dg.Definitions(
    jobs=[ingest_job],
    sensors=[manifest_sensor, reconcile_sensor],
    resources={
        "gdal": GDALResource(timeout_s=dg.EnvVar.int("SPATIAL_ETL_GDAL_TIMEOUT_S")),
        "minio": MinIOResource(
            endpoint_url=dg.EnvVar("SPATIAL_ETL_S3_ENDPOINT_URL"),
            access_key_id=dg.EnvVar("SPATIAL_ETL_S3_ACCESS_KEY_ID"),
            secret_access_key=dg.EnvVar("SPATIAL_ETL_S3_SECRET_ACCESS_KEY"),
            region=dg.EnvVar("SPATIAL_ETL_S3_REGION"),
            landing_bucket=dg.EnvVar("SPATIAL_ETL_LANDING_BUCKET"),
            lake_bucket=dg.EnvVar("SPATIAL_ETL_LAKE_BUCKET"),
        ),
        "postgis": PostGISResource(
            dsn=dg.EnvVar("SPATIAL_ETL_POSTGIS_DSN"),
            statement_timeout_s=dg.EnvVar.int("SPATIAL_ETL_POSTGIS_STATEMENT_TIMEOUT_S"),
            lock_timeout_s=dg.EnvVar.int("SPATIAL_ETL_POSTGIS_LOCK_TIMEOUT_S"),
            pool_size=dg.EnvVar.int("SPATIAL_ETL_POSTGIS_POOL_SIZE"),
        ),
        "ledger": LedgerResource(
            uri=dg.EnvVar("SPATIAL_ETL_MONGODB_URI"),
            database=dg.EnvVar("SPATIAL_ETL_MONGODB_DATABASE"),
        ),
    },
)
