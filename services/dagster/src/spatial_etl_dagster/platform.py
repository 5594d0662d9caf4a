"""Assemble the core's ``Platform`` from the Dagster resources of a sensor tick or an op.

:func:`open_platform` is the lifecycle: the clients (S3, Mongo, the PostGIS pool) are built
once for the tick or the op and closed when it ends, whatever ends it. The plugin catalogue
is loaded once per process for each plugin configuration (``SPATIAL_ETL_PLUGINS`` /
``SPATIAL_ETL_BLOCK_PLUGINS``): importing every plugin on each 30-second tick would cost the
tick its time and log the same load problems again and again; installing other plugins means
a new image, hence a new process, anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from spatial_etl.plugins.loading import load_plugins
from spatial_etl.plugins.registry import IntentCatalog
from spatial_etl.run.executor import Platform
from spatial_etl.settings import PluginSettings, read_settings

from spatial_etl_dagster.resources import (
    GDALResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)

_CatalogKey = tuple[frozenset[str] | None, frozenset[str]]
_CATALOGS: dict[_CatalogKey, IntentCatalog] = {}
_CATALOGS_LOCK = threading.Lock()


def plugin_catalog(settings: PluginSettings | None = None) -> IntentCatalog:
    """The catalogue of the plugins ``settings`` allow, loaded once per process.

    Raises:
        ConfigurationError: The plugin settings are invalid.
    """
    settings = settings if settings is not None else read_settings(PluginSettings)
    key: _CatalogKey = (settings.plugins, settings.block_plugins)
    with _CATALOGS_LOCK:
        catalog = _CATALOGS.get(key)
        if catalog is None:
            catalog = _CATALOGS[key] = load_plugins(settings)
        return catalog


def build_platform(
    gdal: GDALResource,
    minio: MinIOResource,
    ledger: LedgerResource,
    postgis: PostGISResource | None = None,
) -> Platform:
    """The services of one run (or of one sensor tick, which needs no compute).

    Raises:
        ConfigurationError: A setting is missing or invalid (one line naming each variable).
    """
    return Platform(
        store=minio.store(),
        ledger=ledger.ledger(),
        runner=gdal.runner(),
        catalog=plugin_catalog(),
        compute=postgis.compute() if postgis is not None else None,
    )


@contextmanager
def open_platform(
    gdal: GDALResource,
    minio: MinIOResource,
    ledger: LedgerResource,
    postgis: PostGISResource | None = None,
) -> Iterator[Platform]:
    """:func:`build_platform` for the block; then close the clients the resources opened.

    Raises:
        ConfigurationError: A setting is missing or invalid (what was built is closed).
    """
    try:
        yield build_platform(gdal, minio, ledger, postgis)
    finally:
        for resource in (minio, ledger, postgis):
            if resource is not None:
                resource.close()
