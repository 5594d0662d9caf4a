"""Dagster adapters over the spatial_etl core: resources, the manifest sensor, the shared job.

``spatial_etl_dagster.definitions:defs`` is the code location. Nothing here holds logic the
core does not already own.
"""

from spatial_etl_dagster.resources import (
    GDALResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)

__all__ = ["GDALResource", "LedgerResource", "MinIOResource", "PostGISResource"]
