"""Small vocabularies shared by manifests and intents: file types and geometry kinds."""

from __future__ import annotations

import re
from enum import StrEnum


class FileType(StrEnum):
    """The two kinds of data a manifest file can hold, as the manifest's ``type`` field says."""

    RASTER = "raster"
    VECTOR = "vector"


class GeometryKind(StrEnum):
    """Broad geometry families an intent accepts.

    Single, multi and curved variants of one family count as the same kind: a boundary intent
    that accepts polygons accepts MultiPolygon, CurvePolygon and MultiSurface too.
    """

    POINT = "point"
    LINE = "line"
    POLYGON = "polygon"
    COLLECTION = "collection"


_FAMILIES: dict[str, GeometryKind] = {
    "point": GeometryKind.POINT,
    "multipoint": GeometryKind.POINT,
    "linestring": GeometryKind.LINE,
    "multilinestring": GeometryKind.LINE,
    "circularstring": GeometryKind.LINE,
    "compoundcurve": GeometryKind.LINE,
    "multicurve": GeometryKind.LINE,
    "curve": GeometryKind.LINE,
    "polygon": GeometryKind.POLYGON,
    "multipolygon": GeometryKind.POLYGON,
    "curvepolygon": GeometryKind.POLYGON,
    "multisurface": GeometryKind.POLYGON,
    "surface": GeometryKind.POLYGON,
    "triangle": GeometryKind.POLYGON,
    "tin": GeometryKind.POLYGON,
    "polyhedralsurface": GeometryKind.POLYGON,
    "geometrycollection": GeometryKind.COLLECTION,
}

_DECORATIONS = re.compile(r"^(st_)|(\s|25d|3d|zm|measured)|(?<=[a-z])[zm]$")


def geometry_kind(type_name: str) -> GeometryKind | None:
    """Map a geometry type name from OGR or PostGIS to its family.

    Accepts the spellings the tools print: ``Multi Polygon``, ``3D Measured Polygon``,
    ``MULTIPOLYGONZ``, ``ST_CurvePolygon``, ``Polygon25D``. Returns ``None`` for a type that
    names no family (``Unknown (any)``, ``None``): the caller must then look at the features.
    """
    name = type_name.strip().lower()
    name = _DECORATIONS.sub("", name)
    return _FAMILIES.get(name)
