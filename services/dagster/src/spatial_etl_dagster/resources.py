"""Dagster resources: the core's settings models, handed out as the core's objects.

The settings models of ``spatial_etl.settings`` are the only declaration of each setting
(type, default, description); a resource repeats none of them. It reads its model from the
environment when first used, so the ``Definitions`` load, and a tick or a run reports a missing
variable as one line (:class:`~spatial_etl.errors.ConfigurationError`), with nothing but the
required settings set. A resource's own fields are only what no deployment sets through the
environment: ``overrides`` (tests and the local runner pin settings by field name) and the
deployment-specific extras (GDAL configuration options, the owner label of run schemas).

Lifecycle: the objects that hold connections (the S3 client, the Mongo client, the PostGIS
pool) are built once per resource instance, on first use, and closed by :meth:`close`, which
``platform.open_platform`` calls when the tick or the op ends. (Not Dagster's
``teardown_after_execution``: a resource with a teardown is a generator resource, which every
``build_sensor_context`` caller would then have to enter as a context manager.) Tests swap the
objects (a mongomock ledger) by replacing a resource's accessor.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Self, cast

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings
from spatial_etl.backends.compute import DEFAULT_OWNER, PostgisCompute
from spatial_etl.backends.ledger import Ledger
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.errors import ConfigurationError
from spatial_etl.settings import (
    GdalSettings,
    IntakeSettings,
    LedgerSettings,
    PostgisSettings,
    StorageSettings,
    read_settings,
)
from spatial_etl.spatial_utils.runner import GdalRunner, SubprocessGdalRunner


def _text(value: object) -> str:
    """A setting's value as the environment would spell it."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, frozenset | set):
        return ",".join(sorted(str(item) for item in value))
    return str(value)


class SettingsResource(ConfigurableResource):  # type: ignore[type-arg]  # generic only for typing
    """A resource configured by one settings model of the core (``settings_model``)."""

    settings_model: ClassVar[type[BaseSettings]]

    overrides: dict[str, str] = Field(
        default_factory=dict,
        description="Settings that replace the environment's, by field name of the settings "
        "model (e.g. gdal_timeout_s); a deployment leaves this empty and sets SPATIAL_ETL_* "
        "variables (.env.example).",
    )

    @classmethod
    def with_settings(cls, **values: object) -> Self:
        """A resource whose settings ``values`` replace the environment's (``None``: unset)."""
        return cls(
            overrides={name: _text(value) for name, value in values.items() if value is not None}
        )

    def _read(self) -> BaseSettings:
        """The settings model read now: the environment and ``.env``, then ``overrides``.

        Raises:
            ConfigurationError: A variable is missing or invalid, or an override names no
                field of the model.
        """
        model = self.settings_model
        unknown = sorted(set(self.overrides) - set(model.model_fields))
        if unknown:
            raise ConfigurationError(
                f"configuration: {type(self).__name__} overrides unknown setting(s) "
                f"{', '.join(unknown)} of {model.__name__}"
            )
        return read_settings(model, self.overrides)

    def close(self) -> None:
        """Close what this resource opened; nothing by default."""


class GDALResource(SettingsResource):
    """The seed's GDALResource: runs GDAL command-line programs through the core runner.

    Settings: ``GdalSettings`` (SPATIAL_ETL_GDAL_*).
    """

    settings_model: ClassVar[type[BaseSettings]] = GdalSettings

    def settings(self) -> GdalSettings:
        """GdalSettings read now (see :class:`SettingsResource`)."""
        return cast(GdalSettings, self._read())

    config_options: dict[str, str] = Field(
        default_factory=dict,
        description="GDAL configuration options passed as environment variables to every command "
        "(e.g. GDAL_CACHEMAX).",
    )

    def runner(self) -> GdalRunner:
        """The core runner configured by the GDAL settings (it holds no connection)."""
        settings = self.settings()
        return SubprocessGdalRunner(
            bin_dir=Path(settings.gdal_bin_dir) if settings.gdal_bin_dir else None,
            timeout_s=settings.gdal_timeout_s,
            env=self.config_options,
            max_memory_mb=settings.gdal_max_memory_mb,
            max_cpu_s=settings.gdal_max_cpu_s,
        )


class MinIOResource(SettingsResource):
    """The seed's MinIOResource: the S3-compatible object store, through boto3.

    Settings: ``StorageSettings`` (SPATIAL_ETL_S3_*, the bucket names).
    """

    settings_model: ClassVar[type[BaseSettings]] = StorageSettings

    def settings(self) -> StorageSettings:
        """StorageSettings read now (see :class:`SettingsResource`)."""
        return cast(StorageSettings, self._read())

    _store: ObjectStore | None = PrivateAttr(default=None)

    def store(self) -> ObjectStore:
        """The object store of this resource, built on first use."""
        if self._store is None:
            self._store = ObjectStore.from_settings(self.settings())
        return self._store

    def close(self) -> None:
        """Close the S3 client's connections."""
        store, self._store = self._store, None
        if store is not None:
            store.close()


class PostGISResource(SettingsResource):
    """The seed's PostGISResource: the compute database and its run-schema lifecycle.

    Settings: ``PostgisSettings`` (SPATIAL_ETL_POSTGIS_*).
    """

    settings_model: ClassVar[type[BaseSettings]] = PostgisSettings

    def settings(self) -> PostgisSettings:
        """PostgisSettings read now (see :class:`SettingsResource`)."""
        return cast(PostgisSettings, self._read())

    owner: str = Field(
        default=DEFAULT_OWNER,
        description="Label written on every run schema; the reconciler drops only the schemas "
        "of its own owner (the local runner uses its own, so it never touches a deployment's).",
    )
    _compute: PostgisCompute | None = PrivateAttr(default=None)

    def compute(self) -> PostgisCompute:
        """The compute engine of this resource (its pool connects on first use)."""
        if self._compute is None:
            self._compute = PostgisCompute(self.settings(), owner=self.owner)
        return self._compute

    def close(self) -> None:
        """Close every pooled connection."""
        compute, self._compute = self._compute, None
        if compute is not None:
            compute.close()


class LedgerResource(SettingsResource):
    """The MongoDB ledger.

    Settings: ``LedgerSettings`` (SPATIAL_ETL_MONGODB_*).
    """

    settings_model: ClassVar[type[BaseSettings]] = LedgerSettings

    def settings(self) -> LedgerSettings:
        """LedgerSettings read now (see :class:`SettingsResource`)."""
        return cast(LedgerSettings, self._read())

    _ledger: Ledger | None = PrivateAttr(default=None)

    def ledger(self) -> Ledger:
        """The ledger of this resource (its client connects on first use)."""
        if self._ledger is None:
            self._ledger = Ledger.from_settings(self.settings())
        return self._ledger

    def close(self) -> None:
        """Close the Mongo client."""
        ledger, self._ledger = self._ledger, None
        if ledger is not None:
            ledger.close()


class IntakeResource(SettingsResource):
    """How the manifest sensor paces itself and how long a manifest waits for its files.

    Settings: ``IntakeSettings`` (SPATIAL_ETL_MANIFEST_*, SPATIAL_ETL_SENSOR_*).
    """

    settings_model: ClassVar[type[BaseSettings]] = IntakeSettings

    def settings(self) -> IntakeSettings:
        """IntakeSettings read now (see :class:`SettingsResource`)."""
        return cast(IntakeSettings, self._read())
