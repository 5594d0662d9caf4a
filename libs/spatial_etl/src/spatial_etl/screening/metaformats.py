"""Confine the references of a meta-format an intent accepts to the input's own folder.

VRT, OGR VRT and MRF files are XML naming other files for GDAL to open: a raw band over
``/etc/passwd``, a source on ``/vsis3/`` read with the platform's credentials, a URL. An intent
that declares one of them in ``Accepts.meta_drivers`` still gets it only when every reference
is a plain relative path resolving inside the folder the input was staged in, and (for VRT and
OGR VRT) is marked relative to the file rather than to GDAL's working directory.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path, PurePosixPath
from typing import Final

from spatial_etl.errors import MetaFormatError

MAX_XML_BYTES: Final = 16 * 1024 * 1024
"""A meta-format description larger than this is refused unread."""

_REFERENCE_TAGS: Final = frozenset(
    {"SourceFilename", "SourceDataset", "SrcDataSource", "DataFile", "IndexFile", "Source"}
)
_RELATIVE_FLAG: Final = frozenset({"SourceFilename", "SrcDataSource"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_FORBIDDEN_TAGS: Final = frozenset({"PixelFunctionCode"})


def check_references(path: Path, label: str) -> list[str]:
    """Return the references of the meta-format file at ``path``, each checked.

    Raises:
        MetaFormatError: a reference is absolute, escapes the folder, names a GDAL virtual
            file system or connection, is a URL, or (VRT) is not marked relative to the file;
            or the file embeds code (VRT pixel functions).
    """
    if path.stat().st_size > MAX_XML_BYTES:
        raise MetaFormatError(f"{label} is larger than {MAX_XML_BYTES // 2**20} MiB of XML")
    if b"<!ENTITY" in path.read_bytes():
        raise MetaFormatError(f"{label} declares XML entities, which are refused")
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - entities refused above
    except ET.ParseError as error:
        raise MetaFormatError(f"{label} is not well-formed XML: {error}") from None
    folder = path.parent.resolve()
    found: list[str] = []
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if tag in _FORBIDDEN_TAGS:
            raise MetaFormatError(f"{label} embeds code (<{tag}>), which is refused")
        if tag not in _REFERENCE_TAGS:
            continue
        reference = (element.text or "").strip()
        if tag == "Source" and not reference:
            continue  # an MRF <Source> may wrap elements; its children are checked
        problem = reference_problem(reference, folder)
        if problem is None and tag in _RELATIVE_FLAG and element.get("relativeToVRT") != "1":
            problem = 'is not marked relativeToVRT="1"'
        if problem:
            raise MetaFormatError(
                f"{label} references {reference!r} (<{tag}>), which {problem}; references "
                "must be relative paths inside the input's own folder"
            )
        found.append(reference)
    return found


def reference_problem(reference: str, folder: Path) -> str | None:
    """Why ``reference`` may not be opened from a file staged in ``folder``, or None."""
    rules = (
        (not reference, "is empty"),
        (reference.lower().startswith("/vsi"), "names a GDAL virtual file system"),
        (
            "\\" in reference or any(ord(char) < 32 for char in reference),
            "contains a backslash or a control character",
        ),
        (reference.startswith("/"), "is an absolute path"),
        (bool(_SCHEME.match(reference)), "is a URL or a driver connection string"),
        (".." in PurePosixPath(reference).parts, "has a '..' segment"),
    )
    for broken, problem in rules:
        if broken:
            return problem
    if not (folder / reference).resolve().is_relative_to(folder):
        return "resolves outside the input's folder"
    return None
