"""The GDAL command-line programs the platform runs on users' data.

A contract of its own because two layers read it: the GDAL runner starts nothing else, and a
GDAL step may declare only these.
"""

from __future__ import annotations

from enum import StrEnum


class GdalProgram(StrEnum):
    """GDAL command-line programs a step may run. Anything else is not a GDAL step."""

    GDAL_TRANSLATE = "gdal_translate"
    GDALWARP = "gdalwarp"
    GDALADDO = "gdaladdo"
    GDALBUILDVRT = "gdalbuildvrt"
    GDALDEM = "gdaldem"
    GDAL_RASTERIZE = "gdal_rasterize"
    NEARBLACK = "nearblack"
    OGR2OGR = "ogr2ogr"
