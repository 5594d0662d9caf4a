"""Parsing of the coordinate reference systems written in manifests.

pyproj is imported by the functions that use it, not with the module: every ``spatial-etl``
command imports the models, and most (``intents list``) never parse a CRS.
"""

from __future__ import annotations

import json
import re

_AUTHORITY_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*:[0-9A-Za-z_.]+$")
_WKT = re.compile(r"^[A-Z][A-Z0-9_]*\s*[\[(]")


def crs_problem(text: str) -> str | None:
    """Explain why ``text`` is not a usable CRS, or return ``None``.

    Accepted spellings are an authority code (``EPSG:4326``, ``OGC:CRS84``), WKT and PROJJSON:
    the forms GDAL and PROJ round-trip without loss. PROJ strings are refused because they drop
    the datum details a ledger must keep. The definition must be known to PROJ.
    """
    from pyproj import CRS  # noqa: PLC0415 - see the module's docstring
    from pyproj.exceptions import CRSError  # noqa: PLC0415

    stripped = text.strip()
    if not stripped:
        return "CRS is empty"
    if stripped.startswith("+") or "+proj=" in stripped:
        return (
            "PROJ strings are not accepted; use an authority code such as EPSG:4326, "
            "WKT or PROJJSON"
        )
    try:
        if stripped.startswith("{"):
            CRS.from_json_dict(json.loads(stripped))
        elif _AUTHORITY_CODE.fullmatch(stripped) or _WKT.match(stripped):
            CRS.from_user_input(stripped)
        else:
            return f"{stripped!r} is not an authority code, WKT or PROJJSON"
    except (CRSError, ValueError) as error:
        return f"{stripped!r} is not a known CRS ({_first_line(str(error))})"
    return None


def same_crs(left: str, right: str) -> bool:
    """Tell whether two CRS definitions describe the same system, ignoring axis order.

    Used to compare a file's own CRS (WKT from GDAL) with the manifest's (often ``EPSG:n``).
    """
    from pyproj import CRS  # noqa: PLC0415 - see the module's docstring

    a, b = CRS.from_user_input(left), CRS.from_user_input(right)
    return bool(a.equals(b, ignore_axis_order=True))


def _first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else "unparsable"


def describe_crs(definition: str) -> str:
    """A short human name for a CRS: ``EPSG:32633, WGS 84 / UTM zone 33N``."""
    from pyproj import CRS  # noqa: PLC0415 - see the module's docstring

    crs = CRS.from_user_input(definition)
    code = crs.to_epsg()
    return f"EPSG:{code}, {crs.name}" if code else str(crs.name)
