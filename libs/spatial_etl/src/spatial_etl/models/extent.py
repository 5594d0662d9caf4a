"""WGS84 bounding boxes the ledger can store, whatever floating point did to them.

Reprojection and bounds densification produce coordinates a hair outside the valid range
(a world layer in EPSG:4326 measured east = 180.00000000000006), and data sets that wrap the
antimeridian may carry longitudes beyond 180. The ledger keeps longitudes in [-180, 180] and
latitudes in [-90, 90], with west > east for an extent crossing the antimeridian (as GeoJSON
and STAC write it), so every bbox is normalised here before it is recorded.
"""

from __future__ import annotations

import math
from typing import Final

BBox = tuple[float, float, float, float]

TOLERANCE_DEG: Final = 1e-6
"""Overshoot treated as rounding noise and clamped; larger ones are wrapped (longitudes)."""


def normalize_wgs84_bbox(bbox: BBox | None) -> BBox | None:
    """``(west, south, east, north)`` inside the valid ranges, or None when not finite.

    Latitudes are clamped. Longitudes within :data:`TOLERANCE_DEG` of the range are clamped;
    longitudes further out are wrapped into [-180, 180] (``190`` becomes ``-170``), which turns
    an extent that runs past the antimeridian into one with west > east. An extent 360 degrees
    wide or more covers every longitude.
    """
    if bbox is None or not all(math.isfinite(value) for value in bbox):
        return None
    west, south, east, north = bbox
    south, north = (
        max(-90.0, min(90.0, value)) for value in (min(south, north), max(south, north))
    )
    if east - west >= 360.0 - TOLERANCE_DEG:
        return (-180.0, south, 180.0, north)
    return (_longitude(west), south, _longitude(east), north)


def _longitude(value: float) -> float:
    if -180.0 - TOLERANCE_DEG <= value <= 180.0 + TOLERANCE_DEG:
        return max(-180.0, min(180.0, value))
    wrapped = math.fmod(value + 180.0, 360.0)
    if wrapped < 0:
        wrapped += 360.0
    return wrapped - 180.0
