"""The STAC API (``/stac/...``): landing page, conformance, collections, items, search.

STAC API v1.0.0 Core, Collections, OGC API Features and Item Search over the ledger's
committed versions, so QGIS and pystac-client browse the lake without S3 credentials. Pages
are bounded (``limit`` defaults to 10 and is clamped to ``web_page_size_max``) and continue
with a ``next`` link carrying an opaque keyset token (GET: in the query; POST: in the body,
``merge: true``). ``POST /search`` is the spec's search with a JSON body: it reads only.
Problems answer ``{"code", "description"}``: 400 naming the parameter, 404 for unknown ids.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse
from spatial_etl.metadata import layout
from spatial_etl.models.ledger import AssetDocument

from spatial_etl_web import stac_documents as docs
from spatial_etl_web.catalogue import Catalogue
from spatial_etl_web.stac_query import (
    MAX_TEXT,
    DatasetKey,
    ItemQuery,
    StacError,
    bad,
    collection_key,
    encode_token,
    item_key,
    item_query,
    not_found,
    parse_limit,
    query_string,
)

router = APIRouter(tags=["stac"])

_ITEM_PARAMETERS = ("bbox", "datetime", "limit", "token", "intersects")
_SEARCH_PARAMETERS = (*_ITEM_PARAMETERS, "collections", "ids")


def _catalogue(request: Request) -> Catalogue:
    """``app.catalogue_of`` without importing the app (which imports this module)."""
    found: Catalogue = request.app.state.catalogue
    return found


CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]


def error_response(_request: Request, error: Exception) -> JSONResponse:
    """A :class:`StacError` as the STAC API's error document (registered by the app)."""
    if not isinstance(error, StacError):  # registered for StacError only
        raise TypeError(error)
    return JSONResponse({"code": error.code, "description": error.description}, error.status)


@router.get("", summary="Landing page")
def landing(request: Request, catalogue: CatalogueDep) -> JSONResponse:
    """The root Catalog: conformance, links to collections and search, a child per dataset."""
    urls = _urls(request, catalogue)
    return JSONResponse(docs.landing_page(catalogue.ledger.committed_datasets(), urls))


@router.get("/conformance", summary="Conformance classes")
def conformance() -> dict[str, list[str]]:
    """The conformance classes this API implements."""
    return {"conformsTo": list(docs.CONFORMANCE)}


@router.get("/collections", summary="Collections")
def collections(request: Request, catalogue: CatalogueDep) -> JSONResponse:
    """A page of Collections (one per dataset with a committed version), by id."""
    values = _query(request, ("limit", "token"))
    limit = parse_limit(values.get("limit"), catalogue.settings.web_page_size_max)
    after = _collection_token(values.get("token"))
    pairs = [
        pair for pair in catalogue.ledger.committed_datasets() if after is None or pair > after
    ]
    urls = _urls(request, catalogue)
    page = pairs[:limit]
    found = []
    for intent, dataset in page:
        versions = catalogue.ledger.committed_versions(intent, dataset)
        if versions:  # committed in between, still: a dataset without versions has no extent
            found.append(docs.collection(intent, dataset, versions, urls))
    links = [
        docs.link("self", _self(request, catalogue)),
        docs.link("root", urls.root),
        docs.link("parent", urls.root),
    ]
    if len(pairs) > limit:
        token = _encode(layout.collection_id(*page[-1]))
        query = {"limit": str(limit), "token": token}
        links.append(docs.link("next", urls.path("collections", query)))
    return JSONResponse({"collections": found, "links": links})


@router.get("/collections/{collection_id}", summary="A collection")
def collection(collection_id: str, request: Request, catalogue: CatalogueDep) -> JSONResponse:
    """A dataset's Collection: extent over every committed version, its items endpoint."""
    intent, dataset = _dataset(collection_id)
    versions = catalogue.ledger.committed_versions(intent, dataset)
    if not versions:
        raise not_found(f"no collection {collection_id!r}")
    return JSONResponse(docs.collection(intent, dataset, versions, _urls(request, catalogue)))


@router.get("/collections/{collection_id}/items", summary="A collection's items")
def collection_items(collection_id: str, request: Request, catalogue: CatalogueDep) -> JSONResponse:
    """A page of a dataset's committed versions, filtered by bbox and datetime."""
    key = _dataset(collection_id)
    if catalogue.ledger.latest_committed(*key) is None:
        raise not_found(f"no collection {collection_id!r}")
    values = _query(request, _ITEM_PARAMETERS)
    query = item_query(values, catalogue.settings.web_page_size_max, collection=key)
    urls = _urls(request, catalogue)
    features, token = _page(catalogue, query, urls)
    links = [
        docs.link("self", _self(request, catalogue), docs.GEOJSON),
        docs.link("root", urls.root),
        docs.link("collection", urls.collection(collection_id)),
        docs.link("parent", urls.collection(collection_id)),
    ]
    if token is not None:
        next_url = urls.items(collection_id, query_string(values, token))
        links.append(docs.link("next", next_url, docs.GEOJSON))
    return _geojson(docs.feature_collection(features, links))


@router.get("/collections/{collection_id}/items/{item_id}", summary="An item")
def item(
    collection_id: str, item_id: str, request: Request, catalogue: CatalogueDep
) -> JSONResponse:
    """One committed version's Item."""
    key = item_key(item_id)
    if key is None or collection_key(collection_id) != key[:2]:
        raise not_found(f"no item {item_id!r} in collection {collection_id!r}")
    found = catalogue.ledger.search_committed(versions=[key], limit=1)
    if not found:
        raise not_found(f"no item {item_id!r} in collection {collection_id!r}")
    return _geojson(docs.item(found[0], _urls(request, catalogue)))


@router.get("/search", summary="Item search (GET)")
def search_get(request: Request, catalogue: CatalogueDep) -> JSONResponse:
    """Items across collections by bbox, datetime, collections and ids."""
    values = _query(request, _SEARCH_PARAMETERS)
    query = item_query(values, catalogue.settings.web_page_size_max)
    urls = _urls(request, catalogue)
    features, token = _page(catalogue, query, urls)
    links = [
        docs.link("self", _self(request, catalogue), docs.GEOJSON),
        docs.link("root", urls.root),
    ]
    if token is not None:
        next_url = urls.path("search", query_string(values, token))
        links.append(docs.link("next", next_url, docs.GEOJSON, method="GET"))
    return _geojson(docs.feature_collection(features, links))


@router.post("/search", summary="Item search (POST)")
def search_post(
    request: Request,
    catalogue: CatalogueDep,
    body: Annotated[dict[str, Any] | None, Body()] = None,
) -> JSONResponse:
    """The same search with a JSON body; the next page resends the body with a new token."""
    values = body or {}
    query = item_query(values, catalogue.settings.web_page_size_max)
    urls = _urls(request, catalogue)
    features, token = _page(catalogue, query, urls)
    links = [docs.link("root", urls.root)]
    if token is not None:
        links.append(
            docs.link(
                "next",
                urls.path("search"),
                docs.GEOJSON,
                method="POST",
                body={**values, "token": token},
                merge=False,
            )
        )
    return _geojson(docs.feature_collection(features, links))


def _page(
    catalogue: Catalogue, query: ItemQuery, urls: docs.Urls
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of Items and the token of the next (None on the last page)."""
    found: list[AssetDocument] = catalogue.ledger.search_committed(
        datasets=query.datasets,
        versions=query.versions,
        bbox=query.bbox,
        created_from=query.start,
        created_to=query.end,
        after=query.after,
        limit=query.limit + 1,
    )
    page = found[: query.limit]
    token = None
    if len(found) > query.limit:
        last = page[-1]
        token = encode_token((last.intent, last.dataset, last.version))
    return [docs.item(asset, urls) for asset in page], token


def _query(request: Request, known: tuple[str, ...]) -> dict[str, str]:
    """The known query parameters, each given once (repeating one is a 400)."""
    values: dict[str, str] = {}
    for name in known:
        given = request.query_params.getlist(name)
        if len(given) > 1:
            raise bad(name, "given more than once")
        if given:
            values[name] = given[0]
    return values


def _dataset(collection_id: str) -> DatasetKey:
    key = collection_key(collection_id)
    if key is None:
        raise not_found(f"no collection {collection_id!r}")
    return key


def _urls(request: Request, catalogue: Catalogue) -> docs.Urls:
    public = catalogue.settings.web_public_url
    return docs.Urls(public or str(request.base_url))


def _self(request: Request, catalogue: Catalogue) -> str:
    """This request's URL under the public base (the same query)."""
    base = _urls(request, catalogue).base
    path = request.url.path.removeprefix(request.scope.get("root_path", ""))
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{base}{path}{query}"


def _geojson(document: dict[str, Any]) -> JSONResponse:
    return JSONResponse(document, media_type=docs.GEOJSON)


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _collection_token(value: str | None) -> DatasetKey | None:
    """The (intent, dataset) a collections page resumes after."""
    if not value:
        return None
    key = None
    if len(value) <= MAX_TEXT:
        try:
            key = collection_key(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode())
        except (binascii.Error, ValueError):
            key = None
    if key is None:
        raise bad("token", "not a token of this server")
    return key
