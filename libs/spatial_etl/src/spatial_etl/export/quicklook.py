"""Quicklooks: a small PNG preview of each product, drawn by GDAL's command-line tools.

A quicklook lets a person see what an asset holds without downloading it. It is derived and
optional: every GDAL failure is raised as :class:`QuicklookError` (the run then publishes the
product without one), but an outage of PostGIS met by its query is raised as itself, as any
stage's outage is.

Rasters are read from the finished COG through its overviews (``gdal_translate -outsize``
picks the overview nearest the target size), so the cost hardly grows with the raster's size.
The stretch is per band, mean ± 2 standard deviations of the band's approximate statistics
(themselves computed from an overview), clipped to the band's range; the nodata mask becomes
the alpha band. Vectors are burnt from the run's PostGIS table by ``gdal_rasterize`` into a
temporary RGBA GeoTIFF (fills of the polygons at least a pixel wide first, then outlines,
lines and points with all touched pixels), then copied to PNG. Nothing but the PNG is left
behind: GDAL's ``.aux.xml`` side-cars are switched off and the temporary files live in a
directory removed afterwards.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final, cast

from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.errors import (
    ComputeConnectionLostError,
    GdalError,
    QuicklookError,
    SqlStepError,
)
from spatial_etl.spatial_utils.rasterinfo import (
    NO_SIDECARS,
    BandInfo,
    RasterInfo,
    read_raster_info,
)
from spatial_etl.spatial_utils.runner import GdalRunner

MAX_SIZE: Final = 512
"""Longest side of a quicklook, in pixels."""


FILL_RGBA: Final = (51, 136, 204, 110)
"""Polygon interiors: a translucent blue, so overlaps and what lies below stay readable."""
LINE_RGBA: Final = (16, 56, 112, 255)
"""Outlines, lines and points: an opaque dark blue."""
POINT_RADIUS_PX: Final = 1.5
"""Points are drawn as small diamonds of this radius, in output pixels, to be seen at all."""
_MARGIN: Final = 0.02
"""Share of the extent's longest side added around a vector layer, so edges stay visible."""


class BandStretch(BaseModel):
    """The input range of one band mapped onto 0..255."""

    model_config = ConfigDict(frozen=True)

    low: float
    high: float


class VectorLayerFacts(BaseModel):
    """What the renderer must know of a table: its extent and how large its polygons get."""

    model_config = ConfigDict(frozen=True)

    count: int
    extent: tuple[float, float, float, float] | None
    polygon_span: float | None = Field(
        description="The largest polygon's bounding box, by its shorter side (None: no polygon)."
    )


def quicklook_size(width: int, height: int, max_size: int = MAX_SIZE) -> tuple[int, int]:
    """The quicklook's size: the longest side at most ``max_size``, never enlarged, at least 1."""
    if width < 1 or height < 1:
        raise QuicklookError(f"cannot draw a quicklook of a {width}x{height} raster")
    scale = min(1.0, max_size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def stretch_of(band: BandInfo) -> BandStretch | None:
    """Mean ± 2 standard deviations clipped to [min, max], QGIS's default stretch.

    None when the band had no valid pixel (GDAL computed no statistics). A constant band maps
    to mid-grey rather than dividing by zero.
    """
    values = (band.minimum, band.maximum, band.mean, band.std_dev)
    if not all(value is not None and math.isfinite(value) for value in values):
        return None
    low, high, mean, deviation = cast(tuple[float, float, float, float], values)
    low, high = max(low, mean - 2 * deviation), min(high, mean + 2 * deviation)
    if high <= low:
        middle = (low + high) / 2
        return BandStretch(low=middle - 0.5, high=middle + 0.5)
    return BandStretch(low=low, high=high)


def raster_quicklook(
    runner: GdalRunner,
    cog: Path,
    out: Path,
    *,
    info: RasterInfo | None = None,
    max_size: int = MAX_SIZE,
    timeout_s: float | None = None,
) -> Path:
    """Write ``out``, a PNG of ``cog`` at most ``max_size`` pixels on its longest side.

    Byte rasters of three bands or more are drawn as RGB from bands 1-3, anything else as band
    1 in grey, each band stretched from its approximate statistics; a paletted band keeps its
    colours. The nodata mask (or alpha band) becomes the PNG's alpha, so a raster without any
    valid pixel gives a fully transparent image rather than an error. ``info`` is the COG's
    description with statistics (:func:`~spatial_etl.export.cog.validate_cog` returns one);
    without it ``gdalinfo`` is run here.
    """
    try:
        if info is None:
            info = read_raster_info(runner, str(cog), statistics=True, timeout_s=timeout_s)
        if not info.bands:
            raise QuicklookError(f"no quicklook of {cog.name}: gdalinfo gave no bands")
        size = quicklook_size(*info.size, max_size)
        argv = ["gdal_translate", "-q", "-of", "PNG", *NO_SIDECARS]
        argv += ["-outsize", str(size[0]), str(size[1])]
        argv += _band_arguments(info)
        _write(runner, [*argv, str(cog), str(out)], out, timeout_s)
    except GdalError as error:
        raise QuicklookError(f"no quicklook of {cog.name}: {error}") from error
    return out


def vector_quicklook(
    runner: GdalRunner,
    compute: PostgisCompute,
    schema: str,
    table: str,
    out: Path,
    *,
    geometry_column: str = "geom",
    max_size: int = MAX_SIZE,
    timeout_s: float | None = None,
) -> Path | None:
    """Write ``out``, a PNG of the geometries of ``schema.table``; None when it has none.

    Drawn in the data's own CRS over the layer's extent (padded, so a single point or a
    straight line still has an area), the longest side ``max_size`` pixels, on a transparent
    background. GDAL reaches PostGIS through :meth:`PostgisCompute.gdal_source`: the password
    travels in the child's environment, never on the (logged) command line.
    """
    facts = layer_facts(compute, schema, table, geometry_column)
    if facts.count == 0 or facts.extent is None:
        return None
    xmin, ymin, xmax, ymax = _frame(facts.extent)
    pixel = max(xmax - xmin, ymax - ymin) / max_size
    size = (max(1, round((xmax - xmin) / pixel)), max(1, round((ymax - ymin) / pixel)))
    xmin, xmax = _centre(xmin, xmax, size[0] * pixel)
    ymin, ymax = _centre(ymin, ymax, size[1] * pixel)
    # A polygon narrower than a pixel cannot hold a whole pixel, so every pixel it covers is
    # touched by its outline: only wider polygons need the fill pass (a dense layer, whose
    # polygons are specks at this scale, then costs one pass instead of two).
    fills = facts.polygon_span is not None and facts.polygon_span >= pixel
    fill, strokes = _render(
        compute,
        sql.SQL(
            "SELECT {g} FROM {t} WHERE ST_Dimension({g}) = 2 "
            "AND ST_XMax({g}) - ST_XMin({g}) >= {pixel} AND ST_YMax({g}) - ST_YMin({g}) >= {pixel}"
        ),
        sql.SQL(
            "SELECT CASE ST_Dimension({g}) "
            "WHEN 2 THEN ST_Boundary(ST_CollectionExtract({g}, 3)) "
            "WHEN 0 THEN ST_Buffer({g}, {radius}, 2) "
            "ELSE {g} END FROM {t} WHERE {g} IS NOT NULL"
        ),
        g=sql.Identifier(geometry_column),
        t=sql.Identifier(schema, table),
        pixel=sql.Literal(pixel),
        radius=sql.Literal(POINT_RADIUS_PX * pixel),
    )
    source, env = compute.gdal_source()
    create = ["-init", "0", "-ot", "Byte", "-of", "GTiff", "-co", "ALPHA=YES"]
    create += ["-te", *(_number(value) for value in (xmin, ymin, xmax, ymax))]
    create += ["-ts", str(size[0]), str(size[1])]
    update = [arg for band in range(1, 5) for arg in ("-b", str(band))]
    passes: list[tuple[str, tuple[int, int, int, int], list[str]]] = []
    if fills:
        passes.append((fill, FILL_RGBA, []))
    passes.append((strokes, LINE_RGBA, ["-at"]))
    try:
        with tempfile.TemporaryDirectory(prefix=".quicklook-", dir=out.parent) as scratch:
            canvas = Path(scratch) / "canvas.tif"
            for number, (statement, rgba, touched) in enumerate(passes):
                argv = ["gdal_rasterize", "-q", *NO_SIDECARS, "-sql", statement, *touched]
                argv += [*_burn(rgba), *(update if number else create), source, str(canvas)]
                runner.run(argv, env=env, timeout_s=timeout_s)
            png = ["gdal_translate", "-q", "-of", "PNG", *NO_SIDECARS, str(canvas), str(out)]
            _write(runner, png, out, timeout_s)
    except GdalError as error:
        raise QuicklookError(f"no quicklook of {schema}.{table}: {error}") from error
    return out


def layer_facts(
    compute: PostgisCompute, schema: str, table: str, geometry_column: str = "geom"
) -> VectorLayerFacts:
    """Count, extent and the largest polygon's span, in one scan of the table.

    A refused query is a :class:`QuicklookError`; a lost connection is raised as itself.
    """
    geometry = sql.Identifier(geometry_column)
    query = sql.SQL(
        "SELECT n, span, ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM ("
        "SELECT count({g}) AS n, ST_Extent({g}) AS b, "
        "max(least(ST_XMax({g}) - ST_XMin({g}), ST_YMax({g}) - ST_YMin({g}))) "
        "FILTER (WHERE ST_Dimension({g}) = 2) AS span FROM {t}) AS s"
    ).format(g=geometry, t=sql.Identifier(schema, table))
    try:
        rows = compute.fetch(query, step="quicklook")
    except ComputeConnectionLostError:
        raise
    except SqlStepError as error:
        raise QuicklookError(f"no quicklook of {schema}.{table}: {error}") from error
    if not rows:
        return VectorLayerFacts(count=0, extent=None, polygon_span=None)
    count, span, *box = rows[0]
    extent = None if None in box else (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
    return VectorLayerFacts(
        count=int(count), extent=extent, polygon_span=None if span is None else float(span)
    )


def _band_arguments(info: RasterInfo) -> list[str]:
    """Which bands, how they are stretched and resampled, and the mask as alpha."""
    bands = info.bands
    if bands[0].color_interpretation == "Palette":
        # Colours are looked up before resampling, so indices are never averaged.
        return ["-expand", "rgba", "-b", "1", "-r", "nearest", "-a_nodata", "none"]
    rgb = len(bands) >= 3 and all(band.data_type == "Byte" for band in bands[:3])
    chosen = bands[:3] if rgb else bands[:1]
    argv = ["-ot", "Byte", "-r", "average", "-a_nodata", "none"]
    for position, band in enumerate(chosen, start=1):
        stretch = stretch_of(band) or BandStretch(low=0.0, high=1.0)  # all masked anyway
        argv += ["-b", str(band.band)]
        argv += [f"-scale_{position}", _number(stretch.low), _number(stretch.high), "0", "255"]
    alpha = len(chosen) + 1
    return [*argv, "-b", "mask", f"-colorinterp_{alpha}", "alpha"]


def _write(runner: GdalRunner, argv: Sequence[str], out: Path, timeout_s: float | None) -> None:
    """Run the command writing ``out``; a failed command leaves no partial PNG behind."""
    try:
        runner.run(argv, timeout_s=timeout_s)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            out.unlink()
        raise
    if not out.is_file():
        raise QuicklookError(f"{argv[0]} reported success but wrote no {out.name}")


def _frame(
    extent: tuple[float, float, float, float],
) -> tuple[float, float, float, float]:
    """The extent with a margin; a degenerate side (a point, a straight line) gets a size."""
    xmin, ymin, xmax, ymax = extent
    longest = max(xmax - xmin, ymax - ymin)
    pad = longest * _MARGIN if longest > 0 else 0.5
    return xmin - pad, ymin - pad, xmax + pad, ymax + pad


def _centre(low: float, high: float, span: float) -> tuple[float, float]:
    middle = (low + high) / 2
    return middle - span / 2, middle + span / 2


def _burn(rgba: tuple[int, int, int, int]) -> list[str]:
    return [arg for value in rgba for arg in ("-burn", str(value))]


def _render(compute: PostgisCompute, *statements: sql.SQL, **parts: sql.Composable) -> list[str]:
    """SQL text for GDAL's ``-sql`` (which takes no parameters), quoted by psycopg2 itself."""
    with compute.connection() as conn:
        return [statement.format(**parts).as_string(conn) for statement in statements]


def _number(value: float) -> str:
    return repr(float(value))
