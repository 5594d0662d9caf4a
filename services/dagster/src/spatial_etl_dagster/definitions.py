"""The ``Definitions`` that ``dagster dev`` and the code-location server load.

``defs`` is a function (``@dg.definitions``): Dagster calls it when it loads the code
location, so importing this module loads no plugin. It builds the job, the sensors and the
resources, and the lake's asset specs from the plugin catalogue the process loads
(:mod:`spatial_etl_dagster.catalog`). The catalogue is loaded once per process and reused by
the sensor's ticks and the runs (:func:`~spatial_etl_dagster.platform.plugin_catalog`).

No setting is given here: each resource reads its settings model (``spatial_etl.settings``)
from the environment when a tick or a run uses it, so the definitions load with nothing set
and a missing variable is reported by the tick or the run that needs it (``.env.example``
lists every variable). Invalid plugin settings leave the catalogue out (a warning): the
sensor's ticks report them.
"""

from __future__ import annotations

import logging

import dagster as dg
from spatial_etl.errors import ConfigurationError
from spatial_etl.plugins.registry import RegisteredIntent

from spatial_etl_dagster.catalog import catalog_specs
from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.platform import plugin_catalog
from spatial_etl_dagster.reject import reject_manifest
from spatial_etl_dagster.resources import (
    GDALResource,
    IntakeResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)
from spatial_etl_dagster.sensor import manifest_sensor, reconcile_sensor

logger = logging.getLogger(__name__)


def resources() -> dict[str, dg.ConfigurableResource]:  # type: ignore[type-arg]
    """The resources of the code location, each reading its settings when used."""
    return {
        "gdal": GDALResource(),
        "minio": MinIOResource(),
        "postgis": PostGISResource(),
        "ledger": LedgerResource(),
        "intake": IntakeResource(),
    }


def build_definitions(intents: list[RegisteredIntent] | None = None) -> dg.Definitions:
    """The jobs, sensors, resources and the lake's assets for ``intents``.

    ``None``: the intents of the plugins this process loads (none installed: no assets).
    """
    if intents is None:
        try:
            intents = plugin_catalog().intents
        except ConfigurationError as error:
            logger.warning("the lake's assets are left out: %s", error)
            intents = []
    return dg.Definitions(
        assets=catalog_specs(intents),
        jobs=[ingest_job, reject_manifest],
        sensors=[manifest_sensor, reconcile_sensor],
        resources=resources(),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """The code location (loaded by Dagster, not at import)."""
    return build_definitions()
