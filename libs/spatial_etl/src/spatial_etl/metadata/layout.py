"""Where metadata lives in the lake, and how its documents point at each other.

The STAC tree sits under ``stac/`` (``catalog.json``, one ``collection.json`` per dataset, one
item per version); an asset's ISO record and quicklook sit beside its object, under the same
version folder. Links between documents are relative, so the tree stays browsable when the
lake is copied to a folder (the local runner's export) or served by any web server.
"""

from __future__ import annotations

import posixpath
from typing import Final

STAC_PREFIX: Final = "stac"
CATALOG_KEY: Final = f"{STAC_PREFIX}/catalog.json"
ISO_SUFFIX: Final = ".iso19139.xml"
QUICKLOOK_SUFFIX: Final = ".png"


def collection_id(intent: str, dataset: str) -> str:
    """The STAC id of a dataset's Collection: ``<intent>.<dataset>``."""
    return f"{intent}.{dataset}"


def item_id(intent: str, dataset: str, version: int) -> str:
    """The STAC id of one version's Item: ``<intent>.<dataset>.v<N>``."""
    return f"{collection_id(intent, dataset)}.v{version}"


def collection_key(intent: str, dataset: str) -> str:
    """The lake key of a dataset's Collection."""
    return f"{STAC_PREFIX}/{intent}/{dataset}/collection.json"


def item_key(intent: str, dataset: str, version: int) -> str:
    """The lake key of one version's Item."""
    return f"{STAC_PREFIX}/{intent}/{dataset}/v{version}.json"


def beside(asset_key: str, suffix: str) -> str:
    """A key beside the asset's object: same folder and stem, another suffix."""
    folder, name = posixpath.split(asset_key)
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return posixpath.join(folder, stem + suffix)


def relative(from_key: str, to_key: str) -> str:
    """The href of ``to_key`` as seen from the document at ``from_key`` (same bucket)."""
    return posixpath.relpath(to_key, posixpath.dirname(from_key) or ".")
