"""Cloud-Optimized GeoTIFF: written by GDAL's COG driver, validated before it may be published.

GDAL writes a "ghost" header at the start of a COG describing its layout
(``LAYOUT=IFDS_BEFORE_DATA``, ``BLOCK_ORDER=ROW_MAJOR``...) and flips
``KNOWN_INCOMPATIBLE_EDITION=YES`` when a later edit breaks that layout. Validation reads that
header and ``gdalinfo``'s view of the file (tiles, overviews), which together are what a COG
reader relies on: the IFDs first, tiled data, overviews for zoomed-out reads.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ConfigDict

from spatial_etl.errors import CogValidationError
from spatial_etl.spatial_utils.rasterinfo import RasterInfo, read_raster_info
from spatial_etl.spatial_utils.runner import GdalRunner

_TIFF_MAGIC: Final = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
_GHOST = re.compile(rb"GDAL_STRUCTURAL_METADATA_SIZE=(\d{6}) bytes\n")
_REQUIRED_LAYOUT: Final = {
    "LAYOUT": "IFDS_BEFORE_DATA",
    "BLOCK_ORDER": "ROW_MAJOR",
    "KNOWN_INCOMPATIBLE_EDITION": "NO",
}


class CogResult(BaseModel):
    """A written and validated COG."""

    model_config = ConfigDict(frozen=True)

    path: Path
    size: int
    info: RasterInfo


def write_cog(
    runner: GdalRunner,
    source: str,
    out: Path,
    creation_options: Mapping[str, str],
    *,
    timeout_s: float | None = None,
    input_drivers: Sequence[str] = (),
) -> CogResult:
    """Translate ``source`` (any GDAL dataset: a VRT chain, a /vsis3/ path) to a valid COG.

    The COG is written beside ``out`` under a temporary name and renamed once it validates,
    so ``out`` is either a valid COG or absent. ``input_drivers`` (``-if``) restricts which
    drivers may open ``source``: given when ``source`` is the user's raw input.
    """
    partial = out.with_name(f".{out.name}.partial")
    argv = ["gdal_translate", "-of", "COG"]
    for key, value in creation_options.items():
        argv += ["-co", f"{key}={value}"]
    try:
        restrict = [arg for driver in input_drivers for arg in ("-if", driver)]
        runner.run([*argv, *restrict, source, str(partial)], timeout_s=timeout_s)
        info = validate_cog(runner, partial)
        partial.replace(out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
    return CogResult(path=out, size=out.stat().st_size, info=info)


def validate_cog(runner: GdalRunner, path: Path) -> RasterInfo:
    """Check that ``path`` is a Cloud-Optimized GeoTIFF; raise listing every problem.

    The description returned carries each band's approximate statistics, read from an
    overview by the same ``gdalinfo`` (hardly slower than one without): the quicklook is
    stretched with them and needs no ``gdalinfo`` of its own.
    """
    problems = _header_problems(path)
    info = read_raster_info(runner, str(path), statistics=True)
    problems += _structure_problems(info)
    if problems:
        raise CogValidationError(path, problems)
    return info


def _header_problems(path: Path) -> list[str]:
    with path.open("rb") as handle:
        head = handle.read(16 + 1024)
    if head[:4] not in _TIFF_MAGIC:
        return ["not a TIFF file"]
    ghost = _GHOST.search(head)
    if ghost is None:
        return ["no COG layout header (the file was not written by GDAL's COG driver)"]
    start = ghost.end()
    block = head[start : start + int(ghost.group(1))].decode("ascii", errors="replace")
    found = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
    return [
        f"{key}={found.get(key, '(missing)')}, expected {value}"
        for key, value in _REQUIRED_LAYOUT.items()
        if found.get(key) != value
    ]


def _structure_problems(info: RasterInfo) -> list[str]:
    problems: list[str] = []
    if info.driver not in {"GTiff", "COG"}:
        problems.append(f"driver is {info.driver}, not GTiff")
    width, height = info.size
    for band in info.bands:
        block = band.block or (width, 1)
        if block[0] == width and block[1] < height and width > 512:
            problems.append(f"band {band.band} is striped ({block[0]}x{block[1]}), not tiled")
        if max(width, height) > 2 * min(block) and band.overview_count == 0:
            problems.append(f"band {band.band} has no overviews")
    return problems
