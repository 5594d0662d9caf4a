"""Dagster adapters over the spatial_etl core.

Resources now; the sensor, job and Definitions arrive with the orchestration issue. Nothing
here holds logic the core does not already own.
"""

from spatial_etl_dagster.resources import GDALResource

__all__ = ["GDALResource"]
