"""Typed reading of ``gdalinfo -json``: the raster facts the platform checks and records."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from spatial_etl.errors import GdalOutputError
from spatial_etl.models.manifest import parse_json_object
from spatial_etl.spatial_utils.runner import GdalRunner

_MODEL = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

NO_SIDECARS: Final = ("--config", "GDAL_PAM_ENABLED", "NO")
"""Keeps GDAL from writing ``.aux.xml`` files (statistics, georeferencing) beside its files."""


class BandInfo(BaseModel):
    """One band: its data type, nodata value and layout."""

    model_config = _MODEL

    band: int
    data_type: str = Field(alias="type", description="GDAL data type name, e.g. Byte, Float32.")
    nodata: float | None = Field(default=None, alias="noDataValue")
    color_interpretation: str | None = Field(default=None, alias="colorInterpretation")
    block: tuple[int, int] | None = Field(default=None, description="Block size (x, y).")
    overview_count: int = Field(default=0, description="Number of overviews of the band.")
    # Approximate statistics: only when asked for, and only if the band has a valid pixel.
    minimum: float | None = None
    maximum: float | None = None
    mean: float | None = None
    std_dev: float | None = Field(default=None, alias="stdDev")

    @field_validator("nodata", "minimum", "maximum", "mean", "std_dev", mode="before")
    @classmethod
    def _special_floats(cls, value: Any) -> Any:
        # gdalinfo writes NaN and infinities as the strings "NaN", "Infinity", "-Infinity".
        if isinstance(value, str):
            return float(value.replace("Infinity", "inf"))
        return value

    def same_nodata(self, other: float | None) -> bool:
        """Nodata equality where NaN equals NaN, as GDAL means it."""
        if self.nodata is None or other is None:
            return self.nodata is other
        if math.isnan(self.nodata) and math.isnan(other):
            return True
        return self.nodata == other


class RasterInfo(BaseModel):
    """What ``gdalinfo -json`` says about a raster dataset."""

    model_config = _MODEL

    description: str
    driver: str = Field(alias="driverShortName")
    size: tuple[int, int] = Field(description="Width and height in pixels.")
    crs_wkt: str | None = Field(default=None, description="WKT2 of the CRS; None when it has none.")
    geo_transform: tuple[float, float, float, float, float, float] | None = Field(
        default=None, alias="geoTransform"
    )
    wgs84_extent: dict[str, Any] | None = Field(default=None, alias="wgs84Extent")
    metadata: dict[str, dict[str, str]] = Field(default_factory=dict)
    bands: tuple[BandInfo, ...] = ()

    @property
    def band_count(self) -> int:
        """Number of bands."""
        return len(self.bands)

    @property
    def image_structure(self) -> dict[str, str]:
        """The IMAGE_STRUCTURE metadata domain (LAYOUT=COG, COMPRESSION, INTERLEAVE...)."""
        return self.metadata.get("IMAGE_STRUCTURE", {})

    @property
    def wgs84_bbox(self) -> tuple[float, float, float, float] | None:
        """(west, south, east, north) from the WGS84 footprint, when there is a CRS.

        A footprint crossing the antimeridian gets west > east, as GeoJSON and STAC write it.
        """
        if not self.wgs84_extent:
            return None
        ring = self.wgs84_extent["coordinates"][0]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        west, east = min(xs), max(xs)
        if east - west > 180 and any(x < 0 for x in xs) and any(x >= 0 for x in xs):
            west, east = min(x for x in xs if x >= 0), max(x for x in xs if x < 0)
        return (west, min(ys), east, max(ys))


def parse_raster_info(text: str) -> RasterInfo:
    """Parse the JSON ``gdalinfo -json`` printed; raise :class:`GdalOutputError` if it is not."""
    raw, problems = parse_json_object(text)
    if raw is None:
        raise GdalOutputError(f"gdalinfo did not print a JSON object: {problems[0].message}")
    raw["crs_wkt"] = (raw.get("coordinateSystem") or {}).get("wkt") or None
    for band in raw.get("bands", []):
        band["overview_count"] = len(band.get("overviews", []))
    try:
        return RasterInfo.model_validate(raw)
    except ValidationError as error:
        raise GdalOutputError(f"unexpected gdalinfo output: {error}") from None


def read_raster_info(
    runner: GdalRunner,
    path: str,
    *,
    input_drivers: Sequence[str] = (),
    statistics: bool = False,
    timeout_s: float | None = None,
) -> RasterInfo:
    """Run ``gdalinfo -json`` on ``path`` (local, ``/vsis3/``...) and parse what it prints.

    ``input_drivers`` restricts which drivers may open ``path`` (``-if``, repeated): user data
    is opened only by the driver its manifest declared, never by whichever claims the bytes.
    ``statistics`` adds each band's approximate statistics (``-approx_stats``: computed from
    an overview when there is one), without the ``.aux.xml`` GDAL would otherwise leave
    beside the file; a band without a valid pixel has none.
    """
    restrict = [arg for driver in input_drivers for arg in ("-if", driver)]
    stats = ["-approx_stats", *NO_SIDECARS] if statistics else []
    argv = ["gdalinfo", "-json", "-nofl", *stats, *restrict, path]
    result = runner.run(argv, timeout_s=timeout_s)
    return parse_raster_info(result.stdout)
