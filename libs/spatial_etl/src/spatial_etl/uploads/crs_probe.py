"""Reading a local file's CRS with GDAL, for manifests written without an explicit CRS."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

from pyproj import CRS
from pyproj.exceptions import CRSError

from spatial_etl.errors import SpatialEtlError, UploadError
from spatial_etl.models.crs import crs_problem, same_crs
from spatial_etl.models.drivers import ARCHIVE_SUFFIXES
from spatial_etl.models.kinds import FileType
from spatial_etl.models.problems import Problem
from spatial_etl.spatial_utils import GdalRunner, read_raster_info, read_vector_info
from spatial_etl.uploads.plan import PlannedUpload

CrsReader = Callable[[Path, FileType], str | None]
"""Reads a local file's CRS (see :func:`read_file_crs`); None when the file has none."""


def read_file_crs(runner: GdalRunner, path: Path, file_type: FileType) -> str | None:
    """A local file's CRS as ``EPSG:n`` when PROJ identifies it exactly, else WKT2.

    Rasters are read with ``gdalinfo``, vectors with ``ogrinfo`` (zips through
    ``/vsizip/``). None when the file has no CRS.

    Raises:
        GdalError: GDAL could not open the file.
        UploadError: The file's layers have different CRSs (one manifest entry has one CRS).
    """
    source = str(path)
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        source = f"/vsizip/{path}"
    if file_type is FileType.RASTER:
        wkt = read_raster_info(runner, source).crs_wkt
        found = [wkt] if wkt else []
    else:
        found = [
            layer.crs_wkt for layer in read_vector_info(runner, source).layers if layer.crs_wkt
        ]
    if not found:
        return None
    if any(not same_crs(found[0], other) for other in found[1:]):
        raise UploadError(f"{path.name}: its layers have different CRSs")
    return crs_code(found[0])


def crs_code(definition: str) -> str:
    """``EPSG:n`` when that code is exactly ``definition`` (axis order aside), else WKT2.

    A code is what a person can read and check in the manifest; WKT2 keeps a CRS that no
    code names without losing anything.
    """
    crs = CRS.from_user_input(definition)
    code = crs.to_epsg(min_confidence=70)
    with contextlib.suppress(CRSError):  # a code PROJ cannot build is no match
        if code is not None and CRS.from_epsg(code).equals(crs, ignore_axis_order=True):
            return f"EPSG:{code}"
    return str(crs.to_wkt())


def crs_of_files(
    listed: Sequence[PlannedUpload],
    crs: str | None,
    crs_of: CrsReader | None,
    problems: list[Problem],
) -> dict[str, str]:
    """The CRS to write for each listed file, by key; problems for those without one.

    ``crs`` given applies to every file; otherwise each file's own is read with ``crs_of``.
    Problems are located by the file, or by the ``crs`` parameter when it is at fault.
    """
    if crs is not None:
        problem = crs_problem(crs)
        if problem:
            problems.append(Problem(loc="crs", code="bad_crs", message=problem))
            return {}
        return {item.key: crs.strip() for item in listed}
    if crs_of is None:
        problems.append(Problem(loc="crs", code="crs_required", message="pass the files' CRS"))
        return {}
    found: dict[str, str] = {}
    for item in listed:
        assert item.type is not None  # noqa: S101 - listed files have a type
        try:
            code = crs_of(item.source, item.type)
        except (SpatialEtlError, CRSError, ValueError) as error:
            problems.append(
                Problem(
                    loc=item.relative,
                    code="crs_unreadable",
                    message=f"{error}; pass the files' CRS",
                )
            )
            continue
        if code is None:
            problems.append(
                Problem(
                    loc=item.relative,
                    code="crs_missing",
                    message="the file has no CRS; pass the files' CRS",
                )
            )
            continue
        found[item.key] = code
    return found
