"""Screen one staged input before any GDAL program opens it.

The order matters: the bytes are identified first (a ``.tif`` that is VRT XML is refused
before anything parses it), then the container the format is checked (a zip's central
directory, a GeoPackage's schema, a meta-format's references). Only then may GDAL open the
file: that is :func:`spatial_etl.run.inputs.inspect_input`, which opens a raster restricted
to the declared driver (``-if``) and compares the driver GDAL reports with the declaration,
in the same ``gdalinfo``/``ogrinfo`` that reads the facts the run needs (one per input).
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath
from typing import Final

from spatial_etl.errors import UnsafeArchiveError
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

VSIZIP: Final = "/vsizip/"
SHAPEFILE: Final = "ESRI Shapefile"


def screen_input(
    staged: StagedInput,
    registered: RegisteredIntent,
    settings: ArchiveSettings | None = None,
) -> None:
    """Refuse ``staged`` unless its bytes are what its manifest entry declares, safely.

    No GDAL program runs here; ``inspect_input`` is the next stage and GDAL's check.

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
