"""Configuration read from the environment and ``.env``, at call time, never at import time.

These models are the only declaration of each setting: its type, default and description.
The Dagster resources read them (they repeat no field), ``.env.example``, docker-compose.yaml
and the Kubernetes ConfigMap are checked against them by tests. Every variable has the
``SPATIAL_ETL_`` prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from spatial_etl.errors import ConfigurationError

_CONFIG = SettingsConfigDict(env_prefix="SPATIAL_ETL_", env_file=".env", extra="ignore")


def _names(value: object) -> object:
    """Split a comma-separated list of plugin names; blanks are dropped."""
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


class PluginSettings(BaseSettings):
    """Which installed plugins the host loads."""

    model_config = _CONFIG

    plugins: Annotated[frozenset[str] | None, NoDecode] = Field(
        default=None,
        description="SPATIAL_ETL_PLUGINS: comma-separated allow-list of plugin names "
        "(entry-point or distribution names). Unset loads every installed plugin; "
        "an empty value loads none.",
    )
    block_plugins: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="SPATIAL_ETL_BLOCK_PLUGINS: comma-separated plugin names never to load.",
    )

    _split = field_validator("plugins", "block_plugins", mode="before")(_names)

    def allows(self, *names: str | None) -> bool:
        """Whether a plugin known by any of ``names`` may load."""
        known = {name for name in names if name}
        if known & self.block_plugins:
            return False
        return self.plugins is None or bool(known & self.plugins)


class GdalSettings(BaseSettings):
    """Where the GDAL programs are and how long they may run."""

    model_config = _CONFIG

    gdal_bin_dir: Path | None = Field(
        default=None,
        description="SPATIAL_ETL_GDAL_BIN_DIR: directory of the GDAL programs; unset uses PATH.",
    )
    gdal_timeout_s: float = Field(
        default=3600.0,
        gt=0,
        description="SPATIAL_ETL_GDAL_TIMEOUT_S: seconds a GDAL command may run before a kill.",
    )
    gdal_max_memory_mb: int = Field(
        default=8192,
        ge=0,
        description="SPATIAL_ETL_GDAL_MAX_MEMORY_MB: address space (RLIMIT_AS) of one GDAL "
        "process in MiB; 0 for no limit.",
    )
    gdal_max_cpu_s: int = Field(
        default=14400,
        ge=0,
        description="SPATIAL_ETL_GDAL_MAX_CPU_S: CPU seconds (RLIMIT_CPU, all threads summed) of "
        "one GDAL process; 0 for no limit.",
    )


class LimitSettings(BaseSettings):
    """Size limits an input must respect, checked right after inspection, before any work.

    Each limit is named in the error that refuses an input, so raising it is one variable away.
    """

    model_config = _CONFIG

    limit_raster_max_pixels: int = Field(
        default=2_000_000_000,
        gt=0,
        description="SPATIAL_ETL_LIMIT_RASTER_MAX_PIXELS: width x height of a raster input.",
    )
    limit_raster_max_bands: int = Field(
        default=1000, gt=0, description="SPATIAL_ETL_LIMIT_RASTER_MAX_BANDS: bands of a raster."
    )
    limit_raster_max_expansion_ratio: float = Field(
        default=1000.0,
        gt=0,
        description="SPATIAL_ETL_LIMIT_RASTER_MAX_EXPANSION_RATIO: uncompressed bytes "
        "(width x height x bands x bytes per sample) over the file's size on disk.",
    )
    limit_vector_max_features: int = Field(
        default=100_000_000,
        gt=0,
        description="SPATIAL_ETL_LIMIT_VECTOR_MAX_FEATURES: features of the layer to read.",
    )
    staging_min_free_mb: int = Field(
        default=1024,
        ge=0,
        description="SPATIAL_ETL_STAGING_MIN_FREE_MB: disk that must stay free in the work "
        "directory after an input is downloaded.",
    )


class StorageSettings(BaseSettings):
    """The S3-compatible object store (MinIO on premise; moto's server in tests)."""

    model_config = _CONFIG

    s3_endpoint_url: str | None = Field(
        default=None,
        description="SPATIAL_ETL_S3_ENDPOINT_URL: URL of the S3 API, e.g. http://minio:9000; unset "
        "uses AWS's.",
    )
    s3_access_key_id: str | None = Field(
        default=None,
        description="SPATIAL_ETL_S3_ACCESS_KEY_ID: unset falls back to boto3's own lookup "
        "(AWS_ACCESS_KEY_ID, profiles).",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="SPATIAL_ETL_S3_SECRET_ACCESS_KEY: secret of that key."
    )
    s3_region: str = Field(
        default="us-east-1", description="SPATIAL_ETL_S3_REGION: region name the endpoint expects."
    )
    landing_bucket: str = Field(
        default="landing-zone", description="SPATIAL_ETL_LANDING_BUCKET: where users upload."
    )
    lake_bucket: str = Field(
        default="data-lake", description="SPATIAL_ETL_LAKE_BUCKET: processed, versioned data."
    )
    s3_multipart_threshold_mb: int = Field(
        default=64,
        gt=4,
        description="SPATIAL_ETL_S3_MULTIPART_THRESHOLD_MB: objects larger than this are "
        "uploaded in parts (see SPATIAL_ETL_S3_MULTIPART_PART_MB).",
    )
    s3_multipart_part_mb: int = Field(
        default=16,
        ge=5,
        description="SPATIAL_ETL_S3_MULTIPART_PART_MB: size of each part of a multipart upload "
        "(S3's minimum is 5), sent ten at a time; grown as needed to stay within 10,000 parts.",
    )


class PostgisSettings(BaseSettings):
    """The PostGIS compute database."""

    model_config = _CONFIG

    postgis_dsn: SecretStr = Field(
        description="SPATIAL_ETL_POSTGIS_DSN: URL of the compute database, "
        "postgresql://user:password@host:port/database.",
    )
    postgis_statement_timeout_s: int = Field(
        default=3600, gt=0, description="SPATIAL_ETL_POSTGIS_STATEMENT_TIMEOUT_S: per statement."
    )
    postgis_lock_timeout_s: int = Field(
        default=30, gt=0, description="SPATIAL_ETL_POSTGIS_LOCK_TIMEOUT_S: wait for a lock."
    )
    postgis_pool_size: int = Field(
        default=4, gt=0, description="SPATIAL_ETL_POSTGIS_POOL_SIZE: connections kept open."
    )
    postgis_retry_s: float = Field(
        default=30,
        ge=0,
        description=(
            "SPATIAL_ETL_POSTGIS_RETRY_S: time spent retrying one idempotent operation "
            "(connect, create/drop a run schema, list run schemas) across an outage."
        ),
    )
    postgis_connect_timeout_s: int = Field(
        default=10,
        gt=0,
        description=(
            "SPATIAL_ETL_POSTGIS_CONNECT_TIMEOUT_S: one connection attempt (libpq's "
            "connect_timeout; 1 counts as 2)."
        ),
    )


class LedgerSettings(BaseSettings):
    """The MongoDB ledger."""

    model_config = _CONFIG

    mongodb_uri: SecretStr = Field(
        description="SPATIAL_ETL_MONGODB_URI: URL of the ledger's MongoDB, "
        "mongodb://user:password@host:27017/?authSource=...",
    )
    mongodb_database: str = Field(
        default="spatial_etl", description="SPATIAL_ETL_MONGODB_DATABASE: the ledger's database."
    )


class IntakeSettings(BaseSettings):
    """How the manifest sensor paces itself and how long it waits for files."""

    model_config = _CONFIG

    manifest_grace_period_s: float = Field(
        default=600.0,
        ge=0,
        description="SPATIAL_ETL_MANIFEST_GRACE_PERIOD_S: how long a manifest may wait for "
        "files it lists that are not uploaded yet before it is rejected.",
    )
    sensor_max_manifests_per_tick: int = Field(
        default=100,
        gt=0,
        description="SPATIAL_ETL_SENSOR_MAX_MANIFESTS_PER_TICK: manifests examined per tick.",
    )
    manifest_max_bytes: int = Field(
        default=1 << 20,
        gt=0,
        description="SPATIAL_ETL_MANIFEST_MAX_BYTES: a larger manifest is rejected unread.",
    )
    manifest_max_files: int = Field(
        default=10_000,
        gt=0,
        description="SPATIAL_ETL_MANIFEST_MAX_FILES: a manifest listing more files is rejected.",
    )


class ArchiveSettings(BaseSettings):
    """Limits a zip input must respect before GDAL may open it through ``/vsizip/``.

    Checked on the zip's central directory alone (nothing is extracted); see CONTEXT.md for
    why the defaults let a national zipped shapefile through and stop a zip bomb.
    """

    model_config = _CONFIG

    archive_max_uncompressed_mb: int = Field(
        default=20480,
        gt=0,
        description="SPATIAL_ETL_ARCHIVE_MAX_UNCOMPRESSED_MB: total uncompressed size the "
        "members of one zip input may declare, in MiB.",
    )
    archive_max_ratio: float = Field(
        default=200.0,
        gt=1,
        description="SPATIAL_ETL_ARCHIVE_MAX_RATIO: largest uncompressed/compressed ratio of "
        "one member (members under 1 MiB uncompressed are not measured).",
    )
    archive_max_members: int = Field(
        default=1000,
        gt=0,
        description="SPATIAL_ETL_ARCHIVE_MAX_MEMBERS: most entries one zip input may hold.",
    )


class WebSettings(BaseSettings):
    """The read-only web catalogue (``spatial-etl serve``)."""

    model_config = _CONFIG

    web_host: str = Field(
        default="127.0.0.1",
        description="SPATIAL_ETL_WEB_HOST: address the catalogue listens on (0.0.0.0 in a "
        "container).",
    )
    web_port: int = Field(
        default=8080, ge=1, le=65535, description="SPATIAL_ETL_WEB_PORT: its TCP port."
    )
    web_public_url: str | None = Field(
        default=None,
        description="SPATIAL_ETL_WEB_PUBLIC_URL: the URL users reach it at, for absolute links "
        "in the STAC API (default: taken from each request).",
    )
    web_page_size_max: int = Field(
        default=100,
        ge=1,
        le=1000,
        description="SPATIAL_ETL_WEB_PAGE_SIZE_MAX: most results one page or API call returns.",
    )
    web_download_ttl_s: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="SPATIAL_ETL_WEB_DOWNLOAD_TTL_S: lifetime of a download link (a presigned "
        "URL), in seconds.",
    )
    web_download_endpoint_url: str | None = Field(
        default=None,
        description="SPATIAL_ETL_WEB_DOWNLOAD_ENDPOINT_URL: the S3 endpoint users' browsers "
        "reach, which download links are signed for (default: SPATIAL_ETL_S3_ENDPOINT_URL; set "
        "it when the catalogue reaches the store by an internal name, e.g. http://minio:9000).",
    )


SETTINGS: tuple[type[BaseSettings], ...] = (
    PluginSettings,
    GdalSettings,
    LimitSettings,
    StorageSettings,
    PostgisSettings,
    LedgerSettings,
    IntakeSettings,
    ArchiveSettings,
    WebSettings,
)
"""Every settings model, in the order ``.env.example`` documents them."""

_S = TypeVar("_S", bound=BaseSettings)


def variable(model: type[BaseSettings], field: str) -> str:
    """The environment variable of one field of a settings model."""
    return f"{model.model_config.get('env_prefix', '')}{field}".upper()


def variables() -> dict[str, FieldInfo]:
    """Every variable the settings models declare, with its field (type, default, description)."""
    return {
        variable(model, name): info
        for model in SETTINGS
        for name, info in model.model_fields.items()
    }


def read_settings(model: type[_S], overrides: Mapping[str, Any] | None = None) -> _S:
    """Read ``model`` from the environment and ``.env``; ``overrides`` (by field) win.

    Raises:
        ConfigurationError: One line naming every variable that is missing or invalid.
    """
    try:
        return model(**dict(overrides or {}))
    except ValidationError as error:
        problems = []
        for item in error.errors(include_url=False):
            name = variable(model, "_".join(str(part) for part in item["loc"]))
            problem = "is not set" if item["type"] == "missing" else f"is invalid: {item['msg']}"
            problems.append(f"{name} {problem}")
        raise ConfigurationError(
            "configuration: " + "; ".join(problems) + " (see .env.example)"
        ) from None
