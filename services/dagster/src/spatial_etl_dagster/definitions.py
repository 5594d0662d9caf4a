"""The one ``Definitions`` object that ``dagster dev`` and the code-location server load.

No setting is given here: each resource reads its settings model (``spatial_etl.settings``)
from the environment when a tick or a run uses it, so the definitions load with nothing set
and a missing variable is reported by the tick or the run that needs it (``.env.example``
lists every variable).
"""

from __future__ import annotations

import dagster as dg

from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.resources import (
    GDALResource,
    IntakeResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)
from spatial_etl_dagster.sensor import manifest_sensor, reconcile_sensor

defs = dg.Definitions(
    jobs=[ingest_job],
    sensors=[manifest_sensor, reconcile_sensor],
    resources={
        "gdal": GDALResource(),
        "minio": MinIOResource(),
        "postgis": PostGISResource(),
        "ledger": LedgerResource(),
        "intake": IntakeResource(),
    },
)
