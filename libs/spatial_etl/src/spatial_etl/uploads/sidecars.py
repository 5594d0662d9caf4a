"""A plain shapefile's sidecars: uploaded beside their ``.shp``, never listed in the manifest.

Staging fetches every ``<stem>.*`` object beside a ``.shp``, so the sidecars reach GDAL
together with it; the manifest declares the shapefile by its ``.shp`` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Final

from spatial_etl.models.drivers import SHAPEFILE_REQUIRED

SHAPEFILE_SIDECARS: Final = (
    ".shp.xml",
    ".shx",
    ".dbf",
    ".prj",
    ".cpg",
    ".qpj",
    ".qix",
    ".sbn",
    ".sbx",
    ".fix",
    ".atx",
    ".ain",
    ".aih",
)
"""Suffixes of the files that belong to the ``.shp`` of the same stem."""


def sidecar_suffix(name: str) -> str | None:
    """The sidecar suffix ``name`` ends with (any case), None when it is no sidecar."""
    lowered = name.lower()
    for suffix in SHAPEFILE_SIDECARS:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def missing_sidecars(stem: str, files: Sequence[tuple[str, Path]]) -> list[str]:
    """The required sidecars missing beside ``<stem>.shp``.

    Found as staging finds them: ``<stem>.<suffix>`` with the exact stem, any case of suffix.
    """
    beside = {
        PurePosixPath(relative).suffix.lower()
        for relative, _ in files
        if relative.startswith(f"{stem}.") and "/" not in relative[len(stem) :]
    }
    return [suffix for suffix in SHAPEFILE_REQUIRED if suffix not in beside]
