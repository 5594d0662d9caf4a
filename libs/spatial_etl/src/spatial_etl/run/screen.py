"""Screen one staged input before any GDAL program opens it.

The order matters: the bytes are identified first (a ``.tif`` that is VRT XML is refused
before anything parses it), then the container the format is checked (a zip's central
directory, a GeoPackage's schema, a meta-format's references), and only then, when a runner
is given, GDAL is asked to open the file restricted to the declared driver, and the driver
it reports is compared with the declaration.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Final

from spatial_etl.errors import FormatMismatchError, UnsafeArchiveError
from spatial_etl.models.drivers import open_drivers
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.staging import StagedInput
from spatial_etl.screening.archives import check_zip
from spatial_etl.screening.formats import (
    HEAD_BYTES,
    META_FORMATS,
    Detected,
    check_declared_format,
    sniff_bytes,
    sniff_file,
)
from spatial_etl.screening.geopackage import check_geopackage
from spatial_etl.screening.metaformats import check_references
from spatial_etl.settings import ArchiveSettings
from spatial_etl.spatial_utils.rasterinfo import read_raster_info
from spatial_etl.spatial_utils.runner import GdalRunner
from spatial_etl.spatial_utils.vectorinfo import read_vector_info

VSIZIP: Final = "/vsizip/"
SHAPEFILE: Final = "ESRI Shapefile"


def screen_input(
    staged: StagedInput,
    registered: RegisteredIntent,
    settings: ArchiveSettings | None = None,
    runner: GdalRunner | None = None,
) -> None:
    """Refuse ``staged`` unless its bytes are what its manifest entry declares, safely.

    ``runner`` (optional) must carry :func:`spatial_etl.screening.gdal_config`'s environment;
    with it, GDAL opens the file restricted to the declared driver and must report that driver.

    Raises:
        UnsafeInputError: a subclass naming the file and the rule it breaks.
    """
    settings = settings or ArchiveSettings()
    declared = staged.file.format
    label = f"files[{staged.index}] {staged.file.path}"
    local = Path(staged.gdal_path.removeprefix(VSIZIP))
    accepted_meta = registered.intent.accepts.meta_drivers
    detected = sniff_file(local)
    archived = staged.gdal_path.startswith(VSIZIP)
    if not (archived and detected is Detected.ZIP):
        check_declared_format(label, declared, detected, accepted_meta)
    if detected in META_FORMATS:
        check_references(local, label)
    elif detected is Detected.ZIP:
        members = check_zip(local, label, settings)
        _check_members(local, label, declared, accepted_meta, members)
    elif detected in (Detected.GEOPACKAGE, Detected.SQLITE):
        check_geopackage(local, label, require_gpkg=declared == "GPKG")
    if runner is not None:
        _check_gdal_driver(staged, registered, runner, label)


def _check_members(
    path: Path, label: str, declared: str, accepted_meta: frozenset[str], members: list[str]
) -> None:
    """Sniff the first bytes of every member: no meta-format hides in an archive.

    Only a few KiB of each member are decompressed (a stream, never the whole member). A
    shapefile archive must hold a ``.shp`` whose bytes are a shapefile's.
    """
    files = [name for name in members if not name.endswith("/")]
    if declared == SHAPEFILE and not any(_is_shp(name) for name in files):
        raise UnsafeArchiveError(f"{label} is declared {SHAPEFILE} but the zip holds no .shp")
    try:
        with zipfile.ZipFile(path) as archive:
            for name in files:
                with archive.open(name) as member:
                    detected = sniff_bytes(member.read(HEAD_BYTES))
                where = f"{label}: member {name!r}"
                if detected is Detected.ZIP:
                    raise UnsafeArchiveError(f"{where} is an archive inside the archive")
                if _is_shp(name) and declared == SHAPEFILE:
                    check_declared_format(where, SHAPEFILE, detected, frozenset())
                elif detected in META_FORMATS:
                    check_declared_format(where, declared, detected, accepted_meta)
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as error:
        raise UnsafeArchiveError(f"{label}: a member cannot be read: {error}") from None


def _is_shp(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() == ".shp"


def _check_gdal_driver(
    staged: StagedInput, registered: RegisteredIntent, runner: GdalRunner, label: str
) -> None:
    declared = staged.file.format
    allowed = open_drivers(declared)
    if registered.intent.is_vector:
        driver = read_vector_info(runner, staged.gdal_path).driver
    else:
        driver = read_raster_info(runner, staged.gdal_path, input_drivers=allowed).driver
    if driver not in allowed:
        raise FormatMismatchError(
            f"{label} is declared {declared} but GDAL opened it with the {driver} driver"
        )
