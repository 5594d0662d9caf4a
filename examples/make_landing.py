"""Regenerate the synthetic example data of ``examples/landing/`` (what ``make demo`` runs).

Run once with the GDAL command-line tools on PATH; the outputs are committed, so the demo does
not need this script::

    python examples/make_landing.py

- ``districts_2026/districts.zip``: six district polygons, a zipped ESRI Shapefile in
  EPSG:25833 (ETRS89 / UTM 33N, south-west of Berlin). Neighbours share their boundaries
  exactly. Names and figures are invented.
- ``dem_2026/elevation.tif``: a 256 x 256 Int16 elevation model in EPSG:32633 (30 m pixels,
  metres, nodata -32768 over a lake), DEFLATE-compressed. Invented hills, deterministic noise.
- ``dem_tiles_2026/tile_<row><col>.tif``: the same elevation model delivered as a 2 x 2 tiling
  of 128 x 128 tiles (``ingest_raster_mosaic`` puts it back together).
- ``water_2026/water.gpkg``: a GeoPackage of two layers in EPSG:25833, ``wells`` (points with
  attributes) and ``pipes`` (lines with Z, depth below ground), for ``ingest_vector_features``.

The manifests in ``examples/landing/manifests/`` are written by hand, not by this script.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

LANDING = Path(__file__).resolve().parent / "landing"
NODATA = -32768


def _tool(name: str) -> str:
    """The absolute path of a GDAL program on PATH."""
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found on PATH: install the GDAL command-line tools")
    return found


def _jitter(seed: int, amplitude: float) -> float:
    """A deterministic offset in [-amplitude, amplitude] (no random module, same every run)."""
    noise = math.sin(seed * 12.9898 + 78.233) * 43758.5453
    return amplitude * (2 * (noise - math.floor(noise)) - 1)


def districts(target: Path) -> None:
    """Six districts on a jittered 3 x 2 grid of 4 km cells; shared edges bend identically."""
    x0, y0, cell = 364_000.0, 5_802_000.0, 4_000.0
    cols, rows = 3, 2

    def corner(i: int, j: int) -> tuple[float, float]:
        interior = 0 < i < cols and 0 < j < rows
        dx = _jitter(i * 7 + j * 13, 600.0) if interior else 0.0
        dy = _jitter(i * 17 + j * 5 + 3, 600.0) if interior else 0.0
        return x0 + i * cell + dx, y0 + j * cell + dy

    def edge(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[float, float]]:
        """Three points between corners a < b, bent sideways; walked b -> a, reverse them."""
        (ax, ay), (bx, by) = corner(*a), corner(*b)
        vertical = a[0] == b[0]
        on_border = a[0] in (0, cols) if vertical else a[1] in (0, rows)
        nx, ny = -(by - ay), bx - ax
        norm = math.hypot(nx, ny)
        points = []
        for step in (1, 2, 3):
            seed = a[0] * 31 + a[1] * 37 + b[0] * 41 + b[1] * 43 + step
            bend = 0.0 if on_border else _jitter(seed, 250.0)
            t = step / 4
            x = ax + t * (bx - ax) + bend * nx / norm
            y = ay + t * (by - ay) + bend * ny / norm
            points.append((x, y))
        return points

    names = ["Seewinkel", "Nordheide", "Am Kanal", "Birkenhain", "Altstadt", "Lindenau"]
    population = [8_412, 12_077, 15_930, 6_245, 21_308, 9_876]
    lines = ["wkt,code,name,population"]
    for j in range(rows):
        for i in range(cols):
            ring_corners = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            ring: list[tuple[float, float]] = []
            for k, a in enumerate(ring_corners):
                b = ring_corners[(k + 1) % 4]
                ring.append(corner(*a))
                middle = edge(a, b) if a < b else list(reversed(edge(b, a)))
                ring.extend(middle)
            ring.append(ring[0])
            wkt = "POLYGON((" + ", ".join(f"{x:.2f} {y:.2f}" for x, y in ring) + "))"
            index = j * cols + i
            lines.append(f'"{wkt}",120690{index + 1:02d},{names[index]},{population[index]}')
    with tempfile.TemporaryDirectory() as work:
        csv = Path(work) / "districts.csv"
        csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        shp = Path(work) / "districts.shp"
        subprocess.run(
            [_tool("ogr2ogr"), "-f", "ESRI Shapefile", str(shp), str(csv),
             "-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO",
             "-oo", "AUTODETECT_TYPE=YES", "-nln", "districts", "-nlt", "POLYGON",
             "-a_srs", "EPSG:25833", "-lco", "ENCODING=UTF-8"],
            check=True,
        )  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
            for suffix in (".shp", ".shx", ".dbf", ".prj", ".cpg"):
                member = shp.with_suffix(suffix)
                info = zipfile.ZipInfo(member.name, date_time=(2026, 1, 15, 9, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, member.read_bytes())


def elevation(target: Path) -> None:
    """Hills on a gently tilted plain; a lake of nodata; metres as Int16."""
    size, pixel = 256, 30.0
    west, south = 384_000.0, 5_812_000.0
    hills = [(60, 70, 38.0, 70.0), (180, 90, 30.0, 45.0), (140, 200, 45.0, 55.0)]
    rows = []
    for r in range(size):
        values = []
        for c in range(size):
            height = 34.0 + 0.05 * c + 0.03 * (size - r)
            for hr, hc, radius, top in hills:
                height += top * math.exp(-((r - hr) ** 2 + (c - hc) ** 2) / (2 * radius**2))
            height += _jitter(r * 257 + c, 0.8)
            in_lake = ((r - 150) / 22) ** 2 + ((c - 60) / 34) ** 2 < 1
            values.append(str(NODATA if in_lake else round(height)))
        rows.append(" ".join(values))
    header = (
        f"ncols {size}\nnrows {size}\nxllcorner {west}\nyllcorner {south}\n"
        f"cellsize {pixel}\nNODATA_value {NODATA}\n"
    )
    with tempfile.TemporaryDirectory() as work:
        grid = Path(work) / "elevation.asc"
        grid.write_text(header + "\n".join(rows) + "\n", encoding="ascii")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [_tool("gdal_translate"), "-q", "-of", "GTiff", "-ot", "Int16", "-a_srs", "EPSG:32633",
             "-a_nodata", str(NODATA), "-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=2",
             "-co", "TILED=YES", "-co", "BLOCKXSIZE=256", "-co", "BLOCKYSIZE=256",
             "-mo", "AREA_OR_POINT=Area", str(grid), str(target)],
            check=True,
        )  # fmt: skip


def tiles(source: Path, folder: Path) -> None:
    """Cut ``source`` (256 x 256) into a 2 x 2 tiling of 128 x 128 GeoTIFFs."""
    folder.mkdir(parents=True, exist_ok=True)
    for row in range(2):
        for col in range(2):
            window = [str(col * 128), str(row * 128), "128", "128"]
            subprocess.run(
                [_tool("gdal_translate"), "-q", "-srcwin", *window, "-co", "COMPRESS=DEFLATE",
                 "-co", "PREDICTOR=2", str(source), str(folder / f"tile_{row}{col}.tif")],
                check=True,
            )  # fmt: skip


def water(target: Path) -> None:
    """Wells (points) and pipes (3D lines) of a small invented water network."""
    x0, y0 = 368_000.0, 5_806_000.0
    wells = ["wkt,name,depth_m,active"]
    for k in range(5):
        x, y = x0 + 900 * k + _jitter(k, 120.0), y0 + 600 * (k % 2) + _jitter(k + 9, 120.0)
        wells.append(f'"POINT ({x:.1f} {y:.1f})",Well {k + 1},{40 + 7 * k},{k % 3 != 0}')
    pipes = ["wkt,pipe,diameter_mm"]
    for k in range(4):
        xa, ya = x0 + 900 * k, y0 + 600 * (k % 2)
        xb, yb = x0 + 900 * (k + 1), y0 + 600 * ((k + 1) % 2)
        line = f"LINESTRING Z ({xa:.1f} {ya:.1f} -1.8, {xb:.1f} {yb:.1f} -2.4)"
        pipes.append(f'"{line}",P{k + 1:03d},{150 + 50 * (k % 2)}')
    target.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        for name, lines, kind in (("wells", wells, "POINT"), ("pipes", pipes, "LINESTRING25D")):
            csv = Path(work) / f"{name}.csv"
            csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
            update = ["-update"] if target.exists() else []
            subprocess.run(
                [_tool("ogr2ogr"), "-f", "GPKG", *update, str(target), str(csv),
                 "-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO",
                 "-oo", "AUTODETECT_TYPE=YES", "-nln", name, "-nlt", kind,
                 "-a_srs", "EPSG:25833"],
                check=True,
            )  # fmt: skip


if __name__ == "__main__":
    districts(LANDING / "districts_2026" / "districts.zip")
    elevation(LANDING / "dem_2026" / "elevation.tif")
    tiles(LANDING / "dem_2026" / "elevation.tif", LANDING / "dem_tiles_2026")
    water(LANDING / "water_2026" / "water.gpkg")
    for path in sorted(LANDING.rglob("*")):
        if path.is_file():
            print(f"{path.relative_to(LANDING)}  {path.stat().st_size} bytes")
