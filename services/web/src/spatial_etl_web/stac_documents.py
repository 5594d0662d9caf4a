"""The lake's STAC documents as the API serves them: the same builders, absolute API hrefs.

Items and Collections come from :mod:`spatial_etl.metadata.stac`, the functions that wrote the
lake's own STAC files, so the API and the lake say the same things. Those documents link
relatively inside ``stac/`` of the lake; here every structural link (self, root, parent,
collection, items) points at this API instead, and asset hrefs at the catalogue's JSON API
(the data's short-lived download, the quicklook, the ISO record), which a client can follow
without S3 credentials. Links to landing inputs (``derived_from``) are kept as recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final
from urllib.parse import quote, urlencode

from spatial_etl.metadata import layout
from spatial_etl.metadata.stac import stac_catalog, stac_collection, stac_item
from spatial_etl.models.ledger import AssetDocument

STAC_VERSION: Final = "1.0.0"
JSON: Final = "application/json"
GEOJSON: Final = "application/geo+json"
OPENAPI: Final = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE: Final = (
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
"""What the API implements: STAC API Core, Collections, Features and Item Search (v1.0.0)."""
_STRUCTURE: Final = frozenset(
    {"self", "root", "parent", "collection", "child", "item", "items", "latest-version"}
)
_ASSET_PATHS: Final = {
    "data": "download",
    "thumbnail": "quicklook.png",
    "iso19139": "iso19139.xml",
}


class Urls:
    """Absolute URLs of the catalogue, from its public base (no trailing slash)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    @property
    def root(self) -> str:
        """The landing page."""
        return f"{self.base}/stac"

    def path(self, suffix: str, query: dict[str, str] | None = None) -> str:
        """``/stac/<suffix>``, with an optional query string."""
        url = f"{self.root}/{suffix}" if suffix else self.root
        return f"{url}?{urlencode(query)}" if query else url

    def collection(self, collection_id: str) -> str:
        """A Collection."""
        return self.path(f"collections/{quote(collection_id, safe='')}")

    def items(self, collection_id: str, query: dict[str, str] | None = None) -> str:
        """A Collection's items."""
        return self.path(f"collections/{quote(collection_id, safe='')}/items", query)

    def item(self, collection_id: str, item_id: str) -> str:
        """One Item."""
        return f"{self.items(collection_id)}/{quote(item_id, safe='')}"

    def asset(self, asset_id: str, what: str) -> str:
        """An asset's file in the JSON API (download, quicklook.png, iso19139.xml)."""
        return f"{self.base}/api/assets/{quote(asset_id, safe='')}/{what}"


def link(rel: str, href: str, media_type: str = JSON, **extra: Any) -> dict[str, Any]:
    """A STAC link."""
    return {"rel": rel, "href": href, "type": media_type, **extra}


def item(asset: AssetDocument, urls: Urls) -> dict[str, Any]:
    """A committed version's Item with API hrefs."""
    document = stac_item(asset, thumbnail=asset.sidecar("thumbnail") is not None)
    collection_id = layout.collection_id(asset.intent, asset.dataset)
    item_id = layout.item_id(asset.intent, asset.dataset, asset.version)
    for name, value in document["assets"].items():
        if name in _ASSET_PATHS:
            value["href"] = urls.asset(asset.asset_id, _ASSET_PATHS[name])
    document["links"] = [
        link("self", urls.item(collection_id, item_id), GEOJSON),
        link("root", urls.root),
        link("parent", urls.collection(collection_id)),
        link("collection", urls.collection(collection_id)),
        *_kept(document["links"]),
    ]
    return document


def collection(
    intent: str, dataset: str, versions: Sequence[AssetDocument], urls: Urls
) -> dict[str, Any]:
    """A dataset's Collection with API hrefs: its items endpoint instead of one link per item."""
    document = stac_collection(intent, dataset, versions)
    collection_id = layout.collection_id(intent, dataset)
    latest = max(versions, key=lambda doc: doc.version)
    document["links"] = [
        link("self", urls.collection(collection_id)),
        link("root", urls.root),
        link("parent", urls.root),
        link("items", urls.items(collection_id), GEOJSON),
        link(
            "latest-version",
            urls.item(collection_id, layout.item_id(intent, dataset, latest.version)),
            GEOJSON,
        ),
        *_kept(document["links"]),
    ]
    return document


def landing_page(datasets: Iterable[tuple[str, str]], urls: Urls) -> dict[str, Any]:
    """The API's root: a Catalog with the API's links and a child per Collection."""
    pairs = sorted(set(datasets))
    document = stac_catalog(pairs)
    document["conformsTo"] = list(CONFORMANCE)
    document["links"] = [
        link("self", urls.root),
        link("root", urls.root),
        link("conformance", urls.path("conformance")),
        link("data", urls.path("collections")),
        link("search", urls.path("search"), GEOJSON, method="GET"),
        link("search", urls.path("search"), GEOJSON, method="POST"),
        link("service-desc", f"{urls.base}/api/openapi.json", OPENAPI),
        *(
            link("child", urls.collection(layout.collection_id(intent, dataset)), title=dataset)
            for intent, dataset in pairs
        ),
    ]
    return document


def feature_collection(
    features: list[dict[str, Any]], links: list[dict[str, Any]]
) -> dict[str, Any]:
    """A page of Items."""
    return {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberReturned": len(features),
    }


def _kept(links: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The links that are not structure (those point at the API now), as recorded."""
    return [entry for entry in links if entry.get("rel") not in _STRUCTURE]
