"""Dagster resources: configuration surfaces that hand out the core's objects.

Each resource is a ``ConfigurableResource`` whose every field is described (the Dagster UI
shows the descriptions) and whose values come from the environment through ``EnvVar`` in the
``Definitions``. A resource builds a core object and does no work of its own, so tests swap the
object (a ``FakeGdalRunner``, a mongomock ledger) without touching the code that uses it.
"""

from __future__ import annotations

from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field, SecretStr
from spatial_etl.backends.compute import DEFAULT_OWNER, PostgisCompute
from spatial_etl.backends.ledger import Ledger
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.settings import GdalSettings, LedgerSettings, PostgisSettings, StorageSettings
from spatial_etl.spatial_utils.runner import GdalRunner, SubprocessGdalRunner


class GDALResource(ConfigurableResource):  # type: ignore[type-arg]  # generic only for typing
    """The seed's GDALResource: runs GDAL command-line programs through the core runner."""

    bin_dir: str | None = Field(
        default=None,
        description="Directory of the GDAL programs (gdalinfo, ogr2ogr, ...); unset uses PATH.",
    )
    timeout_s: int = Field(
        default=3600,
        description="Whole seconds one GDAL command may run before it is killed with its children.",
    )
    config_options: dict[str, str] = Field(
        default_factory=dict,
        description="GDAL configuration options passed as environment variables to every command "
        "(e.g. GDAL_CACHEMAX, AWS_S3_ENDPOINT for /vsis3/).",
    )

    max_memory_mb: int | None = Field(
        default=None,
        description="Address-space limit of each GDAL process in MiB (0: none); unset reads "
        "SPATIAL_ETL_GDAL_MAX_MEMORY_MB.",
    )
    max_cpu_s: int | None = Field(
        default=None,
        description="CPU-time limit of each GDAL process in seconds (0: none); unset reads "
        "SPATIAL_ETL_GDAL_MAX_CPU_S.",
    )

    def runner(self) -> GdalRunner:
        """The core runner configured by this resource."""
        limits = GdalSettings()  # read when used: the OS limits' defaults come from here
        return SubprocessGdalRunner(
            bin_dir=Path(self.bin_dir) if self.bin_dir else None,
            timeout_s=self.timeout_s,
            env=self.config_options,
            max_memory_mb=(
                limits.gdal_max_memory_mb if self.max_memory_mb is None else self.max_memory_mb
            ),
            max_cpu_s=limits.gdal_max_cpu_s if self.max_cpu_s is None else self.max_cpu_s,
        )


class MinIOResource(ConfigurableResource):  # type: ignore[type-arg]
    """The seed's MinIOResource: the S3-compatible object store, through boto3."""

    endpoint_url: str | None = Field(
        default=None, description="S3 endpoint, e.g. http://minio:9000; unset uses AWS's."
    )
    access_key_id: str | None = Field(default=None, description="Access key of the pipeline.")
    secret_access_key: str | None = Field(default=None, description="Its secret.")
    region: str = Field(default="us-east-1", description="Region name the endpoint expects.")
    landing_bucket: str = Field(default="landing-zone", description="Where users upload.")
    lake_bucket: str = Field(default="data-lake", description="Processed, versioned data.")

    def store(self) -> ObjectStore:
        """The core's object store for these settings."""
        secret = SecretStr(self.secret_access_key) if self.secret_access_key else None
        return ObjectStore.from_settings(
            StorageSettings(
                s3_endpoint_url=self.endpoint_url,
                s3_access_key_id=self.access_key_id,
                s3_secret_access_key=secret,
                s3_region=self.region,
                landing_bucket=self.landing_bucket,
                lake_bucket=self.lake_bucket,
            )
        )


class PostGISResource(ConfigurableResource):  # type: ignore[type-arg]
    """The seed's PostGISResource: the compute database and its run-schema lifecycle."""

    dsn: str = Field(description="postgresql://user:password@host:port/database of PostGIS.")
    statement_timeout_s: int = Field(default=3600, description="Limit of one SQL statement.")
    lock_timeout_s: int = Field(default=30, description="Limit of a wait for a lock.")
    pool_size: int = Field(default=4, description="Connections kept open per process.")
    owner: str = Field(
        default=DEFAULT_OWNER,
        description="Label written on every run schema; the reconciler drops only the schemas "
        "of its own owner (the local runner uses its own, so it never touches a deployment's).",
    )

    def compute(self) -> PostgisCompute:
        """The core's compute engine for these settings."""
        return PostgisCompute(
            PostgisSettings(
                postgis_dsn=SecretStr(self.dsn),
                postgis_statement_timeout_s=self.statement_timeout_s,
                postgis_lock_timeout_s=self.lock_timeout_s,
                postgis_pool_size=self.pool_size,
            ),
            owner=self.owner,
        )


class LedgerResource(ConfigurableResource):  # type: ignore[type-arg]
    """The MongoDB ledger."""

    uri: str = Field(description="mongodb://user:password@host:27017/?authSource=... of MongoDB.")
    database: str = Field(default="spatial_etl", description="The ledger's database.")

    def ledger(self) -> Ledger:
        """The core's ledger for these settings (connects lazily)."""
        return Ledger.from_settings(
            LedgerSettings(mongodb_uri=SecretStr(self.uri), mongodb_database=self.database)
        )
