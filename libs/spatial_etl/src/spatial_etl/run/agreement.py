"""The inputs of a batch intent must agree before they are made into one product.

A mosaic of tiles that disagree is never what the uploader meant, and GDAL would not say so:
``gdalbuildvrt`` silently leaves out a tile whose band count differs and takes the first
tile's nodata for all of them, and a warp to the first tile's grid reinterprets the others'
data type. So the core refuses such a batch before any step runs, for every batch intent,
naming each file with its value; the plugin cannot forget it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import isnan

from spatial_etl.errors import InputError
from spatial_etl.models.crs import describe_crs, same_crs
from spatial_etl.models.manifest import ManifestFile
from spatial_etl.run.inputs import InputInspection
from spatial_etl.spatial_utils.rasterinfo import RasterInfo


def check_agreement(items: Sequence[tuple[ManifestFile, InputInspection]]) -> None:
    """Raise :class:`InputError` listing every way the rasters of a batch disagree.

    Compared with the first file: CRS (by PROJ, ignoring axis order), band count, each band's
    data type and each band's nodata (NaN equals NaN; a value and none differ).
    """
    rasters = [(item, inspection.raster) for item, inspection in items]
    known = [(item, raster) for item, raster in rasters if raster is not None]
    if len(known) < 2:
        return
    problems: list[str] = []
    first_item, first = known[0]
    others = known[1:]
    if any(not same_crs(inspection.crs, items[0][1].crs) for _, inspection in items[1:]):
        problems.append(_listing("CRS", [(i.path, describe_crs(x.crs)) for i, x in items]))
    checks: tuple[tuple[str, Callable[[RasterInfo], str]], ...] = (
        ("band count", _bands),
        ("data type", _types),
        ("nodata", _nodata),
    )
    for label, value in checks:
        if any(value(raster) != value(first) for _, raster in others):
            problems.append(_listing(label, [(i.path, value(r)) for i, r in known]))
    if problems:
        raise InputError(
            "the batch's rasters must agree to make one product; " + "; ".join(problems),
            file=first_item.path,
        )


def _listing(what: str, values: Sequence[tuple[str, str]]) -> str:
    return f"they differ in {what}: " + ", ".join(f"{path} ({value})" for path, value in values)


def _bands(raster: RasterInfo) -> str:
    return str(raster.band_count)


def _types(raster: RasterInfo) -> str:
    return "/".join(band.data_type for band in raster.bands)


def _nodata(raster: RasterInfo) -> str:
    return "/".join(_value(band.nodata) for band in raster.bands)


def _value(nodata: float | None) -> str:
    if nodata is None:
        return "none"
    return "nan" if isnan(nodata) else repr(nodata)
