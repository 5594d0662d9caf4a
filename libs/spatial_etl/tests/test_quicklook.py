"""Quicklooks drawn by the real GDAL CLI from real COGs and real PostGIS tables.

Each PNG is decoded here in plain Python (zlib and the PNG filters), so the assertions read
the pixels themselves: size, channels, which pixels are transparent, that the image is not
blank.
"""

from __future__ import annotations

import math
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
from psycopg2 import sql
from pydantic import SecretStr
from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.errors import (
    ComputeUnavailableError,
    GdalCommandError,
    QuicklookError,
)
from spatial_etl.export.cog import validate_cog
from spatial_etl.export.quicklook import (
    BandStretch,
    quicklook_size,
    raster_quicklook,
    stretch_of,
    vector_quicklook,
)
from spatial_etl.models.ledger import RasterFacts
from spatial_etl.run.products import Product, with_quicklook
from spatial_etl.settings import PostgisSettings
from spatial_etl.spatial_utils.rasterinfo import BandInfo
from spatial_etl.spatial_utils.runner import CommandResult, GdalRunner, SubprocessGdalRunner
from spatial_etl.steps.export import ExportFormat

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel


# ----------------------------------------------------------------------------- PNG reading


@dataclass(frozen=True)
class Png:
    """A decoded 8-bit PNG: ``rows[y][x]`` is a tuple of channel values."""

    width: int
    height: int
    color_type: int
    rows: list[list[tuple[int, ...]]]

    @property
    def channels(self) -> int:
        return _CHANNELS[self.color_type]

    def alpha(self, x: int, y: int) -> int:
        return self.rows[y][x][-1]

    def pixels(self) -> Iterator[tuple[int, ...]]:
        for row in self.rows:
            yield from row

    def opaque(self) -> list[tuple[int, ...]]:
        return [p for p in self.pixels() if p[-1] > 0]


def read_png(path: Path) -> Png:
    """Decode a non-interlaced 8-bit PNG; fail loudly on anything else."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, "not a PNG"
    at, idat, header = 8, b"", None
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        at += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None
    width, height, depth, color_type, _, _, interlace = header
    assert (depth, interlace) == (8, 0)
    channels = _CHANNELS[color_type]
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[list[tuple[int, ...]]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            line[i] = (line[i] + _predict(kind, left, up, corner)) & 0xFF
        rows.append([tuple(line[x * channels : (x + 1) * channels]) for x in range(width)])
        previous = line
    return Png(width, height, color_type, rows)


def _predict(kind: int, left: int, up: int, corner: int) -> int:
    if kind == 0:
        return 0
    if kind == 1:
        return left
    if kind == 2:
        return up
    if kind == 3:
        return (left + up) // 2
    estimate = left + up - corner
    near = min((abs(estimate - left), 0), (abs(estimate - up), 1), (abs(estimate - corner), 2))
    return (left, up, corner)[near[1]]


@pytest.mark.gdal
def test_the_png_reader_agrees_with_gdal(tmp_path: Path) -> None:
    """The decoder the other tests rely on, checked once against GDAL's own statistics."""
    source = _cog(tmp_path, "ramp", (37, 23), "Byte", [lambda x, y: (x * 7 + y * 3) % 256])
    png = tmp_path / "ramp.png"
    subprocess.run(["gdal_translate", "-q", "-of", "PNG", str(source), str(png)], check=True)
    decoded = read_png(png)
    assert (decoded.width, decoded.height, decoded.channels) == (37, 23, 1)
    assert [decoded.rows[y][x][0] for x, y in [(0, 0), (5, 2), (36, 22)]] == [
        0,
        41,
        (36 * 7 + 22 * 3) % 256,
    ]


# ----------------------------------------------------------------------------- rasters

Fill = Callable[[int, int], float]


def _cog(
    tmp_path: Path,
    name: str,
    size: tuple[int, int],
    data_type: str,
    bands: Sequence[Fill],
    *,
    nodata: float | None = None,
    alpha: bool = False,
    palette: Sequence[tuple[int, int, int]] = (),
) -> Path:
    """A COG (with overviews) whose pixels are ``band(x, y)``, via a raw ENVI file."""
    width, height = size
    code, fmt = {"Byte": (1, "B"), "UInt16": (12, "H"), "Float32": (4, "f")}[data_type]
    raw = tmp_path / f"{name}.bin"
    with raw.open("wb") as handle:
        for fill in bands:
            for y in range(height):
                handle.write(struct.pack(f"<{width}{fmt}", *(fill(x, y) for x in range(width))))
    raw.with_suffix(".hdr").write_text(
        f"ENVI\nsamples = {width}\nlines = {height}\nbands = {len(bands)}\nheader offset = 0\n"
        f"file type = ENVI Standard\ndata type = {code}\ninterleave = bsq\nbyte order = 0\n"
    )
    source = raw
    if palette:  # a colour table is easiest to attach in a VRT's XML
        source = raw.with_suffix(".vrt")
        subprocess.run(["gdal_translate", "-q", "-of", "VRT", str(raw), str(source)], check=True)
        entries = "".join(f'<Entry c1="{r}" c2="{g}" c3="{b}" c4="255"/>' for r, g, b in palette)
        table = f"<ColorInterp>Palette</ColorInterp><ColorTable>{entries}</ColorTable>"
        xml = source.read_text().replace("<SimpleSource>", table + "<SimpleSource>", 1)
        source.write_text(xml)
    target = tmp_path / f"{name}.tif"
    argv = ["gdal_translate", "-q", "-of", "COG", "-a_srs", "EPSG:32633"]
    argv += ["-a_ullr", "500000", str(5500000 + height * 10), str(500000 + width * 10), "5500000"]
    if nodata is not None:
        argv += ["-a_nodata", str(nodata)]
    if alpha:
        argv += [f"-colorinterp_{len(bands)}", "alpha"]
    subprocess.run([*argv, str(source), str(target)], check=True, capture_output=True)
    return target


@pytest.fixture
def runner() -> SubprocessGdalRunner:
    return SubprocessGdalRunner(timeout_s=120)


def _not_blank(png: Png) -> None:
    opaque = png.opaque()
    assert opaque, "every pixel is transparent"
    assert len({p[:-1] for p in opaque}) > 1, "every visible pixel has the same colour"


@pytest.mark.gdal
def test_rgb_byte_raster_is_drawn_in_colour_with_its_alpha(
    tmp_path: Path, runner: GdalRunner
) -> None:
    bands: list[Fill] = [
        lambda x, y: x % 256,
        lambda x, y: y % 256,
        lambda x, y: 128,
        lambda x, y: 0 if x < 100 else 255,  # alpha: the left 100 columns are transparent
    ]
    cog = _cog(tmp_path, "rgba", (400, 300), "Byte", bands, alpha=True)
    out = raster_quicklook(runner, cog, tmp_path / "rgba.png")
    png = read_png(out)
    assert (png.width, png.height, png.color_type) == (400, 300, 6)  # RGBA, not enlarged
    assert png.alpha(10, 150) == 0
    assert png.alpha(300, 150) == 255
    _not_blank(png)
    red, green, _, _ = png.rows[250][350]
    assert red != green  # the bands are not mixed up into grey
    assert sorted(p.name for p in tmp_path.glob("rgba.*")) == [
        "rgba.bin",
        "rgba.hdr",
        "rgba.png",
        "rgba.tif",
    ]


@pytest.mark.gdal
def test_float_raster_with_nan_nodata_is_grey_and_transparent_where_nan(
    tmp_path: Path, runner: GdalRunner
) -> None:
    def dem(x: int, y: int) -> float:
        if x < 200 and y < 100:
            return math.nan
        return 300 + 120 * math.sin(x / 50) + 80 * math.cos(y / 40)

    cog = _cog(tmp_path, "dem", (800, 400), "Float32", [dem], nodata=math.nan)
    png = read_png(raster_quicklook(runner, cog, tmp_path / "dem.png"))
    assert (png.width, png.height, png.color_type) == (512, 256, 4)  # grey + alpha
    assert png.alpha(10, 10) == 0  # NaN
    assert png.alpha(100, 40) == 0
    assert png.alpha(400, 200) == 255
    _not_blank(png)
    greys = [p[0] for p in png.opaque()]
    assert min(greys) < 10 and max(greys) > 245  # stretched over the whole 0..255 range


@pytest.mark.gdal
def test_large_uint16_raster_is_reduced_keeping_its_aspect_ratio(
    tmp_path: Path, runner: GdalRunner
) -> None:
    cog = _cog(
        tmp_path,
        "wide",
        (3000, 1000),
        "UInt16",
        [lambda x, y: 0 if y >= 900 else 1000 + x + (y // 50) * 300],
        nodata=0,
    )
    png = read_png(raster_quicklook(runner, cog, tmp_path / "wide.png"))
    assert (png.width, png.height, png.color_type) == (512, 171, 4)
    assert all(png.alpha(x, 170) == 0 for x in range(0, 512, 50))  # the nodata rows at the bottom
    assert png.alpha(256, 80) == 255
    _not_blank(png)


@pytest.mark.gdal
def test_a_paletted_raster_keeps_its_colours_and_its_nodata(
    tmp_path: Path, runner: GdalRunner
) -> None:
    palette = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
    cog = _cog(
        tmp_path, "classes", (200, 100), "Byte", [lambda x, y: x // 50], nodata=0, palette=palette
    )
    png = read_png(raster_quicklook(runner, cog, tmp_path / "classes.png"))
    assert (png.width, png.height, png.color_type) == (200, 100, 6)
    assert png.alpha(10, 50) == 0  # index 0 is nodata
    assert [png.rows[50][x] for x in (75, 125, 175)] == [
        (255, 0, 0, 255),
        (0, 255, 0, 255),
        (0, 0, 255, 255),
    ]  # the table's colours, never averaged or stretched


@pytest.mark.gdal
def test_a_tiny_raster_is_not_enlarged(tmp_path: Path, runner: GdalRunner) -> None:
    cog = _cog(tmp_path, "tiny", (7, 3), "Byte", [lambda x, y: x * 30 + y])
    png = read_png(raster_quicklook(runner, cog, tmp_path / "tiny.png"))
    assert (png.width, png.height, png.channels) == (7, 3, 2)
    _not_blank(png)


@pytest.mark.gdal
def test_an_all_nodata_raster_gives_a_fully_transparent_image(
    tmp_path: Path, runner: GdalRunner
) -> None:
    cog = _cog(tmp_path, "void", (600, 300), "Float32", [lambda x, y: math.nan], nodata=math.nan)
    png = read_png(raster_quicklook(runner, cog, tmp_path / "void.png"))
    assert (png.width, png.height, png.channels) == (512, 256, 2)
    assert png.opaque() == []


@pytest.mark.gdal
def test_an_unreadable_raster_is_a_quicklook_error_leaving_no_png(
    tmp_path: Path, runner: GdalRunner
) -> None:
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00" + b"\x00" * 100)
    with pytest.raises(QuicklookError, match=r"no quicklook of broken\.tif: gdalinfo exited"):
        raster_quicklook(runner, broken, tmp_path / "broken.png")
    assert not (tmp_path / "broken.png").exists()


def test_quicklook_size_keeps_the_aspect_ratio_and_never_enlarges() -> None:
    assert quicklook_size(3000, 1000) == (512, 171)
    assert quicklook_size(1000, 3000) == (171, 512)
    assert quicklook_size(8000, 8000) == (512, 512)
    assert quicklook_size(100, 50) == (100, 50)
    assert quicklook_size(100000, 10) == (512, 1)
    with pytest.raises(QuicklookError, match="0x5"):
        quicklook_size(0, 5)


def _band(**stats: object) -> BandInfo:
    return BandInfo.model_validate({"band": 1, "type": "Float32", **stats})


def test_stretch_is_mean_plus_minus_two_sigma_clipped_to_the_range() -> None:
    stats = {"minimum": 0.0, "maximum": 1000.0, "mean": 500.0, "stdDev": 100.0}
    assert stretch_of(_band(**stats)) == BandStretch(low=300.0, high=700.0)
    wide = _band(minimum=10.0, maximum=20.0, mean=15.0, stdDev=50.0)
    assert stretch_of(wide) == BandStretch(low=10.0, high=20.0)
    flat = _band(minimum=7.0, maximum=7.0, mean=7.0, stdDev=0.0)
    assert stretch_of(flat) == BandStretch(low=6.5, high=7.5)
    assert stretch_of(_band()) is None  # GDAL found no valid pixel
    assert stretch_of(_band(**{**stats, "mean": "NaN"})) is None  # as gdalinfo -json writes it


@pytest.mark.gdal
def test_validating_a_cog_reads_the_statistics_its_quicklook_is_stretched_with(
    tmp_path: Path,
) -> None:
    cog = _cog(tmp_path, "wave", (600, 300), "UInt16", [lambda x, y: 1000 + x + y], nodata=0)
    recorder = _Recorder(SubprocessGdalRunner(timeout_s=60))
    info = validate_cog(recorder, cog)
    band = info.bands[0]
    stats = (band.minimum, band.mean, band.maximum, band.std_dev)
    assert None not in stats
    low, mean, high, deviation = cast(tuple[float, float, float, float], stats)
    assert 1000 <= low < mean < high <= 1898
    assert deviation > 0
    png = read_png(raster_quicklook(recorder, cog, tmp_path / "wave.png", info=info))
    assert [argv[0] for argv, _ in recorder.calls] == ["gdalinfo", "gdal_translate"]
    assert (png.width, png.height) == (512, 256)
    _not_blank(png)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["wave.bin", "wave.hdr", "wave.png", "wave.tif"]  # no .aux.xml


# ----------------------------------------------------------------------------- vectors


@pytest.fixture
def compute(postgis_dsn: str) -> Iterator[PostgisCompute]:
    engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(postgis_dsn)))
    yield engine
    engine.close()


class _Recorder:
    """A runner that keeps every command and environment it was given."""

    def __init__(self, inner: GdalRunner) -> None:
        self.inner = inner
        self.calls: list[tuple[tuple[str, ...], dict[str, str]]] = []

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> CommandResult:
        self.calls.append((tuple(argv), dict(env or {})))
        return self.inner.run(argv, timeout_s=timeout_s, env=env, check=check)


def _table(pg_conn: Any, schema: str, name: str, geometries: Sequence[str | None]) -> str:
    with pg_conn.cursor() as cur:
        cur.execute(
            sql.SQL("CREATE TABLE {} (etl_fid serial, geom geometry)").format(
                sql.Identifier(schema, name)
            )
        )
        for wkt in geometries:
            cur.execute(
                sql.SQL("INSERT INTO {} (geom) VALUES (ST_GeomFromText(%s, 32633))").format(
                    sql.Identifier(schema, name)
                ),
                (wkt,),
            )
    return name


def _pixel(
    extent: tuple[float, float, float, float], png: Png, x: float, y: float
) -> tuple[int, int]:
    """The pixel of (x, y) in a quicklook of a layer whose extent is ``extent``."""
    xmin, ymin, xmax, ymax = extent
    longest = max(xmax - xmin, ymax - ymin)
    pad = longest * 0.02 if longest else 0.5
    size = (longest + 2 * pad) / max(png.width, png.height)
    left = (xmin + xmax) / 2 - png.width * size / 2
    top = (ymin + ymax) / 2 + png.height * size / 2
    return int((x - left) / size), int((top - y) / size)


@pytest.mark.gdal
@pytest.mark.postgis
def test_polygons_are_filled_and_outlined_and_the_password_stays_off_the_command_line(
    tmp_path: Path,
    runner: GdalRunner,
    compute: PostgisCompute,
    pg_conn: Any,
    scratch_schema: str,
) -> None:
    squares = [
        "POLYGON((0 0, 4000 0, 4000 1000, 0 1000, 0 0))",
        "MULTIPOLYGON(((5000 0, 6000 0, 6000 2000, 5000 2000, 5000 0)))",
    ]
    table = _table(pg_conn, scratch_schema, "parcels", squares)
    recorder = _Recorder(runner)
    out = vector_quicklook(recorder, compute, scratch_schema, table, tmp_path / "parcels.png")
    assert out == tmp_path / "parcels.png"
    png = read_png(out)
    expected_height = round(512 * (2000 + 240) / (6000 + 240))  # 2 % margins
    assert (png.width, png.height, png.color_type) == (512, expected_height, 6)
    extent = (0.0, 0.0, 6000.0, 2000.0)
    inside = png.rows[_pixel(extent, png, 2000, 500)[1]][_pixel(extent, png, 2000, 500)[0]]
    edge_x, edge_y = _pixel(extent, png, 4000, 500)
    edge = max((png.rows[edge_y][x] for x in range(edge_x - 1, edge_x + 2)), key=lambda p: p[3])
    outside_x, outside_y = _pixel(extent, png, 2000, 1800)
    assert 0 < inside[3] < 255  # a translucent fill
    assert edge[3] == 255  # an opaque outline
    assert inside[:3] != edge[:3]
    assert png.alpha(outside_x, outside_y) == 0  # between the squares: background
    assert png.alpha(0, 0) == 0  # the margin
    password = urlsplit(compute.settings.postgis_dsn.get_secret_value()).password
    assert password
    gdal_calls = [(argv, env) for argv, env in recorder.calls if argv[0] == "gdal_rasterize"]
    assert len(gdal_calls) == 2
    for argv, env in gdal_calls:
        assert not any(password in arg for arg in argv)
        assert env["PGPASSWORD"] == password
    assert sorted(p.name for p in tmp_path.iterdir()) == ["parcels.png"]  # nothing else left


@pytest.mark.gdal
@pytest.mark.postgis
def test_polygons_smaller_than_a_pixel_are_drawn_in_one_pass(
    tmp_path: Path, runner: GdalRunner, compute: PostgisCompute, pg_conn: Any, scratch_schema: str
) -> None:
    """A dense layer: each 5 m square is a speck at 512 px over 10 km, drawn by its outline."""
    with pg_conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE TABLE {} AS SELECT ST_MakeEnvelope(x * 200, y * 200, x * 200 + 5, "
                "y * 200 + 5, 32633) AS geom FROM generate_series(0, 49) AS x, "
                "generate_series(0, 49) AS y"
            ).format(sql.Identifier(scratch_schema, "specks"))
        )
    recorder = _Recorder(runner)
    out = vector_quicklook(recorder, compute, scratch_schema, "specks", tmp_path / "specks.png")
    assert out is not None
    assert [argv[0] for argv, _ in recorder.calls] == ["gdal_rasterize", "gdal_translate"]
    png = read_png(out)
    extent = (0.0, 0.0, 9805.0, 9805.0)
    for x, y in [(0, 0), (4002, 6002), (9802, 9802)]:
        px, py = _pixel(extent, png, x, y)
        near = [png.alpha(i, j) for i in range(px - 1, px + 2) for j in range(py - 1, py + 2)]
        assert max(near) == 255, (x, y)
    assert 2500 <= len(png.opaque()) <= 4 * 2500  # one to four pixels each, never lost


@pytest.mark.gdal
@pytest.mark.postgis
def test_lines_are_drawn_with_every_touched_pixel(
    tmp_path: Path, runner: GdalRunner, compute: PostgisCompute, pg_conn: Any, scratch_schema: str
) -> None:
    lines = ["LINESTRING(0 0, 3000 3000)", "MULTILINESTRING((0 3000, 3000 0))"]
    table = _table(pg_conn, scratch_schema, "pipes", lines)
    out = vector_quicklook(runner, compute, scratch_schema, table, tmp_path / "pipes.png")
    assert out is not None
    png = read_png(out)
    assert (png.width, png.height, png.channels) == (512, 512, 4)
    extent = (0.0, 0.0, 3000.0, 3000.0)
    for x, y in [(0, 0), (1500, 1500), (3000, 3000), (750, 2250), (3000, 0)]:
        px, py = _pixel(extent, png, x, y)
        near = [png.alpha(i, j) for i in range(px - 1, px + 2) for j in range(py - 1, py + 2)]
        assert max(near) == 255, (x, y)
    px, py = _pixel(extent, png, 1500, 300)
    assert png.alpha(px, py) == 0
    assert 500 < len(png.opaque()) < 512 * 20  # two thin lines, not filled areas


@pytest.mark.gdal
@pytest.mark.postgis
def test_points_are_visible_as_small_marks(
    tmp_path: Path, runner: GdalRunner, compute: PostgisCompute, pg_conn: Any, scratch_schema: str
) -> None:
    points = ["POINT(0 0)", "POINT(1000 500)", "MULTIPOINT((2000 0), (2000 1000))"]
    table = _table(pg_conn, scratch_schema, "wells", points)
    out = vector_quicklook(runner, compute, scratch_schema, table, tmp_path / "wells.png")
    assert out is not None
    png = read_png(out)
    assert png.width == 512
    assert png.height == round(512 * (1000 + 80) / (2000 + 80))
    extent = (0.0, 0.0, 2000.0, 1000.0)
    for x, y in [(0, 0), (1000, 500), (2000, 0), (2000, 1000)]:
        px, py = _pixel(extent, png, x, y)
        assert png.alpha(min(px, png.width - 1), min(py, png.height - 1)) == 255, (x, y)
    marks = len(png.opaque())
    assert 4 * 4 <= marks <= 4 * 25  # each point a few pixels, not one and not a blob


@pytest.mark.gdal
@pytest.mark.postgis
def test_a_single_point_gets_a_padded_extent(
    tmp_path: Path, runner: GdalRunner, compute: PostgisCompute, pg_conn: Any, scratch_schema: str
) -> None:
    table = _table(pg_conn, scratch_schema, "one", ["POINT(500000 5500000)"])
    out = vector_quicklook(runner, compute, scratch_schema, table, tmp_path / "one.png")
    assert out is not None
    png = read_png(out)
    assert (png.width, png.height) == (512, 512)
    assert png.alpha(256, 256) == 255
    assert png.alpha(0, 0) == 0


@pytest.mark.gdal
@pytest.mark.postgis
def test_an_empty_table_has_no_quicklook(
    tmp_path: Path, runner: GdalRunner, compute: PostgisCompute, pg_conn: Any, scratch_schema: str
) -> None:
    empty = _table(pg_conn, scratch_schema, "empty", [])
    nulls = _table(pg_conn, scratch_schema, "nulls", [None, None])
    recorder = _Recorder(runner)
    for table in (empty, nulls):
        assert (
            vector_quicklook(recorder, compute, scratch_schema, table, tmp_path / "x.png") is None
        )
    assert recorder.calls == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgis
def test_a_missing_geometry_column_is_a_quicklook_error(
    tmp_path: Path, runner: GdalRunner, compute: PostgisCompute, pg_conn: Any, scratch_schema: str
) -> None:
    table = _table(pg_conn, scratch_schema, "t", ["POINT(0 0)"])
    with pytest.raises(QuicklookError, match='column "shape" does not exist'):
        vector_quicklook(
            runner, compute, scratch_schema, table, tmp_path / "t.png", geometry_column="shape"
        )


# ----------------------------------------------------------------------------- failure policy


def _product(tmp_path: Path) -> Product:
    return Product(
        path=tmp_path / "output_0.tif",
        format=ExportFormat.COG,
        crs="EPSG:32633",
        bbox_wgs84=None,
        raster=RasterFacts(width=1, height=1, bands=1, dtype="Byte", nodata=None),
        steps=(),
    )


def test_a_quicklook_is_attached_to_the_product(tmp_path: Path) -> None:
    made = with_quicklook(_product(tmp_path), lambda: tmp_path / "output_0.png")
    assert made.quicklook == tmp_path / "output_0.png"
    assert with_quicklook(_product(tmp_path), lambda: None).quicklook is None


def test_a_failed_quicklook_is_a_warning_not_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def drawing_fails() -> Path:
        raise QuicklookError("no quicklook of output_0.tif: gdal_translate exited with status 1")

    def gdal_fails() -> Path:
        raise GdalCommandError(["gdal_rasterize"], 1, "ERROR 1: boom")

    for make in (drawing_fails, gdal_fails):
        assert with_quicklook(_product(tmp_path), make).quicklook is None
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "no quicklook for output_0.tif: no quicklook of output_0.tif: gdal_translate exited "
        "with status 1",
        "no quicklook for output_0.tif: gdal_rasterize exited with status 1: ERROR 1: boom",
    ]


@pytest.mark.parametrize(
    "error", [ComputeUnavailableError("cannot connect to PostGIS"), MemoryError("no room")]
)
def test_an_outage_or_a_foreign_error_still_propagates(
    tmp_path: Path, error: BaseException
) -> None:
    def make() -> Path:
        raise error

    with pytest.raises(type(error)):
        with_quicklook(_product(tmp_path), make)


def _parquet_product(path: Path) -> Product:
    return Product(
        path=path, format=ExportFormat.GEOPARQUET, crs="EPSG:4326", bbox_wgs84=None, steps=()
    )


def test_the_drawing_runs_beside_the_export_and_is_joined_even_when_the_export_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The quicklook is drawn in a thread while the export runs; it never outlives the call,
    so it cannot read a schema the run is about to drop."""
    import threading
    import time

    from spatial_etl.run import products

    events: list[str] = []
    started = threading.Event()

    def slow_drawing(*_args: Any, **_kwargs: Any) -> Path:
        started.set()
        time.sleep(0.3)
        events.append("drawn")
        return tmp_path / "x.png"

    monkeypatch.setattr(products, "vector_quicklook", slow_drawing)
    drawing = products._Drawing(None, None, "s", "geom")  # type: ignore[arg-type]

    def export() -> Product:
        assert started.wait(5)  # the drawing is under way while the export runs
        events.append("exported")
        return _parquet_product(tmp_path / "x.parquet")

    made = drawing.export(export, "t", tmp_path / "x.parquet")
    assert events == ["exported", "drawn"] and made.quicklook == tmp_path / "x.png"

    events.clear()
    started.clear()

    def failing_export() -> Product:
        assert started.wait(5)
        raise RuntimeError("the export broke")

    with pytest.raises(RuntimeError, match="the export broke"):
        drawing.export(failing_export, "t", tmp_path / "x.parquet")
    assert events == ["drawn"]  # joined before the error left the call
