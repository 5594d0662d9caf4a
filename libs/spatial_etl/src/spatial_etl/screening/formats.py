"""What an input's bytes are, from their first bytes, and whether that is what was declared.

The manifest names a GDAL driver, but GDAL itself picks a driver by probing the content: a
file named ``scene.tif`` whose bytes are VRT XML is opened by the VRT driver, which then reads
whatever paths the XML names. Sniffing the magic numbers in plain Python, before any GDAL
program sees the file, closes that door: the declared driver must match the detected format.
"""

from __future__ import annotations

import re
import struct
from enum import StrEnum
from pathlib import Path
from typing import Final

from spatial_etl.errors import FormatMismatchError
from spatial_etl.models.drivers import REFERENCING_DRIVERS

HEAD_BYTES: Final = 4096
"""How much of a file is read to identify it (XML roots may follow a long prolog)."""


class Detected(StrEnum):
    """A format recognised from a file's first bytes."""

    TIFF = "TIFF"
    BIGTIFF = "BigTIFF"
    JP2 = "JPEG 2000 (JP2 boxes)"
    J2K = "JPEG 2000 (raw codestream)"
    GEOPACKAGE = "GeoPackage (SQLite)"
    SQLITE = "SQLite database (not a GeoPackage)"
    ZIP = "ZIP archive"
    SHAPEFILE = "Shapefile main file (.shp)"
    FLATGEOBUF = "FlatGeobuf"
    JSON = "JSON"
    VRT = "GDAL VRT (XML)"
    OGR_VRT = "OGR VRT (XML)"
    MRF = "MRF metadata (XML)"
    GDAL_XML = "GDAL service or index description (XML)"
    XML = "XML"
    EMPTY = "empty"
    UNKNOWN = "unknown"


_TIFF: Final = (b"II*\x00", b"MM\x00*")
_BIGTIFF: Final = (b"II+\x00", b"MM\x00+")
_JP2_BOX: Final = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K: Final = b"\xff\x4f\xff\x51"
_SQLITE: Final = b"SQLite format 3\x00"
_GPKG_IDS: Final = frozenset({b"GPKG", b"GP10", b"GP11"})
_ZIP: Final = (b"PK\x03\x04", b"PK\x05\x06")
_SHAPEFILE_CODE: Final = 9994
_PREFIXES: Final = (
    *((magic, Detected.TIFF) for magic in _TIFF),
    *((magic, Detected.BIGTIFF) for magic in _BIGTIFF),
    (_JP2_BOX, Detected.JP2),
    (_J2K, Detected.J2K),
    *((magic, Detected.ZIP) for magic in _ZIP),
)
_BOMS: Final = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")

_XML_ROOTS: Final[dict[str, Detected]] = {
    "VRTDataset": Detected.VRT,
    "OGRVRTDataSource": Detected.OGR_VRT,
    "MRF_META": Detected.MRF,
    "GDALTileIndexDataset": Detected.GDAL_XML,
    "GDAL_WMS": Detected.GDAL_XML,
    "GDAL_WCS": Detected.GDAL_XML,
    "GDAL_WMTS": Detected.GDAL_XML,
    "WMS_Capabilities": Detected.GDAL_XML,
    "Capabilities": Detected.GDAL_XML,
    "KMLSuperOverlay": Detected.GDAL_XML,
}
_PROLOG = re.compile(rb"\s*(?:<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.DOTALL)
_ROOT = re.compile(rb"<([A-Za-z_][\w.\-]*:)?([A-Za-z_][\w.\-]*)")

META_FORMATS: Final[dict[Detected, str]] = {
    Detected.VRT: "VRT",
    Detected.OGR_VRT: "OGR_VRT",
    Detected.MRF: "MRF",
}
"""Detected meta-formats and the driver that reads each (see ``REFERENCING_DRIVERS``)."""

_TIFFS: Final = frozenset({Detected.TIFF, Detected.BIGTIFF})
_JPEG2000: Final = frozenset({Detected.JP2, Detected.J2K})
_JSONS: Final = frozenset({Detected.JSON})

SIGNATURES: Final[dict[str, frozenset[Detected]]] = {
    "GTiff": _TIFFS,
    "COG": _TIFFS,
    "LIBERTIFF": _TIFFS,
    "JP2OpenJPEG": _JPEG2000,
    "JP2KAK": _JPEG2000,
    "JP2ECW": _JPEG2000,
    "JPEG2000": _JPEG2000,
    "GPKG": frozenset({Detected.GEOPACKAGE}),
    "SQLite": frozenset({Detected.SQLITE, Detected.GEOPACKAGE}),
    "ESRI Shapefile": frozenset({Detected.SHAPEFILE, Detected.ZIP}),
    "FlatGeobuf": frozenset({Detected.FLATGEOBUF}),
    "GeoJSON": _JSONS,
    "GeoJSONSeq": _JSONS,
    "TopoJSON": _JSONS,
    "ESRIJSON": _JSONS,
    "VRT": frozenset({Detected.VRT}),
    "OGR_VRT": frozenset({Detected.OGR_VRT}),
    "MRF": frozenset({Detected.MRF}),
}
"""What the bytes of a file declared with each driver may be.

Drivers not listed here have no signature the platform knows; their files are refused only
when they are a meta-format or a container another listed driver claims (see
:func:`check_declared_format`).
"""


def sniff_bytes(head: bytes) -> Detected:
    """Identify a format from the first bytes of a file (:data:`HEAD_BYTES` are enough)."""
    if not head:
        return Detected.EMPTY
    if head.startswith(_SQLITE):
        return Detected.GEOPACKAGE if head[68:72] in _GPKG_IDS else Detected.SQLITE
    for prefix, detected in _PREFIXES:
        if head.startswith(prefix):
            return detected
    if len(head) >= 4 and struct.unpack(">i", head[:4])[0] == _SHAPEFILE_CODE:
        return Detected.SHAPEFILE
    if head[:3] == b"fgb" and head[4:7] == b"fgb":
        return Detected.FLATGEOBUF
    return _sniff_text(head)


def sniff_file(path: Path) -> Detected:
    """Identify the format of the file at ``path`` from its first bytes."""
    with path.open("rb") as handle:
        return sniff_bytes(handle.read(HEAD_BYTES))


def check_declared_format(
    label: str, declared: str, detected: Detected, accepted_meta: frozenset[str]
) -> None:
    """Refuse a file whose bytes are not what its declared driver reads.

    ``label`` names the file in the message (``files[0] s3://...``). A meta-format is accepted
    only when it is the declared driver and the intent accepts it in ``accepted_meta``; the
    check of its references is :mod:`spatial_etl.screening.metaformats`'.
    """
    allowed = SIGNATURES.get(declared)
    meta = META_FORMATS.get(detected)
    if allowed is not None and detected in allowed and meta is None:
        return
    if meta is not None and meta == declared and meta in accepted_meta:
        return
    if allowed is None and meta is None and detected not in _CLAIMED:
        return
    if detected in (Detected.EMPTY, Detected.UNKNOWN):
        raise FormatMismatchError(
            f"{label} is declared {declared} but its bytes are no {declared} file "
            f"(format {detected.value})"
        )
    article = "an" if detected in _AN else "a"
    tail = ""
    if meta is not None and meta == declared:
        tail = (
            f"; {meta} references other files and the intent does not accept it "
            "(Accepts.meta_drivers)"
        )
    raise FormatMismatchError(
        f"{label} is declared {declared} but its bytes are {article} {detected.value}{tail}"
    )


_AN: Final = frozenset({Detected.OGR_VRT, Detected.MRF, Detected.XML, Detected.SQLITE})
"""Formats whose name is read with a vowel sound ("an MRF metadata file")."""

_CLAIMED: Final = frozenset(
    {
        Detected.TIFF,
        Detected.BIGTIFF,
        Detected.JP2,
        Detected.J2K,
        Detected.GEOPACKAGE,
        Detected.SQLITE,
        Detected.ZIP,
        Detected.SHAPEFILE,
        Detected.FLATGEOBUF,
        Detected.GDAL_XML,
    }
)
"""Formats a listed driver owns: a file of one is never another, unlisted driver's file."""


def _sniff_text(head: bytes) -> Detected:
    text = head
    for bom in _BOMS:
        if text.startswith(bom):
            text = text[len(bom) :]
            break
    if text[:1] == b"\x1e":  # RFC 8142 record separator (GeoJSON text sequences)
        text = text[1:]
    stripped = text.lstrip()
    if stripped[:1] in (b"{", b"["):
        return Detected.JSON
    if stripped[:1] != b"<":
        return Detected.UNKNOWN
    position = 0
    while True:
        prolog = _PROLOG.match(text, position)
        if prolog is None:
            break
        position = prolog.end()
    root = _ROOT.match(text[position:].lstrip())
    if root is None:
        return Detected.XML
    name = root.group(2).decode("ascii", errors="replace")
    return _XML_ROOTS.get(name, Detected.XML)


assert set(META_FORMATS.values()) <= REFERENCING_DRIVERS  # noqa: S101 - catalog consistency
