"""The metadata objects of one asset version: its ISO record, quicklook and STAC Item.

They are rendered from the pending ledger document before anything is uploaded, so the
document can list them (key, hash, size) when it claims its version: whatever happens next,
the ledger knows every object the version may have left in the lake. Rendering is pure; the
publisher uploads the bytes.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final, NamedTuple

from spatial_etl.metadata import layout
from spatial_etl.metadata.iso import iso_record
from spatial_etl.metadata.stac import ISO_MEDIA_TYPE, stac_item
from spatial_etl.models.ledger import AssetDocument, Sidecar, SidecarRole

STAC_MEDIA_TYPE: Final = "application/geo+json"
STAC_JSON_MEDIA_TYPE: Final = "application/json"
PNG_MEDIA_TYPE: Final = "image/png"


class Rendered(NamedTuple):
    """A sidecar's ledger record and the bytes it must hold."""

    record: Sidecar
    content: bytes


def render(doc: AssetDocument, quicklook: bytes | None) -> tuple[AssetDocument, list[Rendered]]:
    """``doc`` listing its sidecars, and their contents (ISO, quicklook if any, STAC Item)."""
    rendered = [
        _rendered("iso19139", layout.beside(doc.s3_key, layout.ISO_SUFFIX), iso_record(doc))
    ]
    if quicklook is not None:
        key = layout.beside(doc.s3_key, layout.QUICKLOOK_SUFFIX)
        rendered.append(_rendered("thumbnail", key, quicklook))
    item = stac_item(doc, thumbnail=quicklook is not None)
    rendered.append(
        _rendered("stac_item", layout.item_key(doc.intent, doc.dataset, doc.version), dumps(item))
    )
    listed = AssetDocument.model_validate(
        {**doc.model_dump(), "sidecars": [entry.record.model_dump() for entry in rendered]}
    )
    return listed, rendered


def dumps(document: dict[str, Any]) -> bytes:
    """A JSON document as the lake stores it: UTF-8, indented, keys in the order built."""
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


_MEDIA_TYPES: Final[dict[SidecarRole, str]] = {
    "iso19139": ISO_MEDIA_TYPE,
    "thumbnail": PNG_MEDIA_TYPE,
    "stac_item": STAC_MEDIA_TYPE,
}


def _rendered(role: SidecarRole, key: str, content: bytes) -> Rendered:
    record = Sidecar(
        role=role,
        key=key,
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        media_type=_MEDIA_TYPES[role],
    )
    return Rendered(record, content)
