"""Assets: search (text, intent, project, dates, bbox), an asset's page, quicklook, download.

Only committed versions are searched, served or downloaded: the lake holds their objects for
sure. A record in another status (pending, failed, duplicate) still has its page and JSON,
which say so. Sidecars (quicklook, ISO record) are read whole from the lake, at most
:data:`SIDECAR_MAX_BYTES`, checked against the sha256 the ledger recorded, and served with
long caching (a version's objects never change). A download is a redirect to a presigned URL
living ``web_download_ttl_s`` seconds, made per request, never shown in a page.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from spatial_etl.errors import AssetQueryError, ObjectNotFoundError
from spatial_etl.models.ledger import ASSET_ID_PATTERN, AssetDocument, SidecarRole

from spatial_etl_web import asset_views, worldmap
from spatial_etl_web.asset_query import AssetQuery, QueryParameterError
from spatial_etl_web.catalogue import Catalogue
from spatial_etl_web.templating import render

api = APIRouter(tags=["assets"])
"""The JSON routes (mounted under ``/api``)."""

pages = APIRouter(include_in_schema=False)
"""The HTML routes."""

logger = logging.getLogger(__name__)

SIDECAR_MAX_BYTES: Final = 16 * 1024 * 1024
"""Largest quicklook or ISO record served (read whole into memory)."""
SEARCH_TIME_LIMIT_S: Final = 5.0
"""The ledger's time budget for one search page (``maxTimeMS``)."""
SIDECAR_CACHE: Final = "public, max-age=86400, immutable"
PAGE_POLICY: Final = (
    "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
"""Content-Security-Policy of the asset pages: nothing outside this origin, no inline script."""
_NOT_IN_LAKE: Final = {
    "pending": "its upload is in progress or its run died (the reconciler settles it)",
    "failed": "its publish failed and the lake holds no object for it",
    "duplicate": "it records a run that reproduced another version and owns no object",
}


def _catalogue(request: Request) -> Catalogue:
    """``app.catalogue_of``, which this module cannot import (``app`` imports it)."""
    found: Catalogue = request.app.state.catalogue
    return found


CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]


class _Refusal(Exception):  # noqa: N818 - a response, not a fault
    """An answer other than the asked-for resource: status, code and a readable message."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description

    def json(self) -> JSONResponse:
        return JSONResponse({"code": self.code, "description": self.description}, self.status)


def _asset(catalogue: Catalogue, asset_id: str) -> AssetDocument:
    """The ledger's asset ``asset_id`` in any status; a :class:`_Refusal` 404 if unknown."""
    found = None
    if re.match(ASSET_ID_PATTERN, asset_id):
        found = catalogue.ledger.get_asset(asset_id)
    if found is None:
        shown = asset_id if len(asset_id) <= 40 else asset_id[:40] + "..."
        raise _Refusal(
            404, "NotFound", f"unknown asset {shown!r}: the ledger has no asset with this id"
        )
    return found


def _in_lake(asset: AssetDocument, what: str) -> None:
    if asset.status != "committed":
        raise _Refusal(
            409 if what == "download" else 404,
            "NotCommitted",
            f"asset {asset.asset_id} is {asset.status}: {_NOT_IN_LAKE[asset.status]}; no {what}",
        )


def _search(catalogue: Catalogue, query: AssetQuery) -> tuple[list[AssetDocument], bool]:
    """One page of results, and whether another follows.

    Raises :class:`QueryParameterError` (``search``) when the ledger needs more than
    :data:`SEARCH_TIME_LIMIT_S` for it.
    """
    try:
        found = _search_ledger(catalogue, query)
    except AssetQueryError as error:
        raise QueryParameterError("search", str(error)) from None
    return found[: query.limit], len(found) > query.limit


def _search_ledger(catalogue: Catalogue, query: AssetQuery) -> list[AssetDocument]:
    return catalogue.ledger.search_assets(
        text=query.text,
        intent=query.intent,
        project=query.project,
        since=query.since,
        until=query.until,
        bbox=query.bbox,
        latest_only=not query.all_versions,
        offset=query.offset,
        limit=query.limit + 1,
        max_time_s=SEARCH_TIME_LIMIT_S,
    )


def _pages(prefix: str, query: AssetQuery, more: bool) -> dict[str, str | None]:
    def link(offset: int) -> str:
        text = query.page(offset).query_string()
        return f"{prefix}?{text}" if text else prefix

    previous = link(max(0, query.offset - query.limit)) if query.offset else None
    return {"next": link(query.offset + query.limit) if more else None, "previous": previous}


# ----------------------------------------------------------------------------- JSON


def _documented(description: str) -> Any:
    """A query parameter taken as text (``AssetQuery`` checks it), described for the docs."""
    return Query(None, description=description)


@api.get("/assets")
def search_assets(  # noqa: PLR0917 - FastAPI passes each query parameter
    catalogue: CatalogueDep,
    q: str | None = _documented("Text in the dataset, title or description (literal)."),
    intent: str | None = _documented("Only this intent."),
    project: str | None = _documented("Only this project (the manifest's metadata.project)."),
    since: str | None = _documented("Committed at or after (ISO 8601; UTC without offset)."),
    until: str | None = _documented("Committed before (ISO 8601; excluded)."),
    bbox: str | None = _documented("W,S,E,N in WGS84 degrees; west > east crosses 180°."),
    all_versions: str | None = _documented("true: every committed version, not the latest."),
    limit: str | None = _documented("Results per page (default 20, at most the page size max)."),
    offset: str | None = _documented("Results to skip (at most 10000)."),
) -> JSONResponse:
    """Committed assets, newest commit first: each dataset's latest version by default.

    Every parameter is optional and checked here, so a bad one answers 400 naming it; a
    ``limit`` above ``web_page_size_max`` is refused, not clamped. ``links.next`` and
    ``links.previous`` page through the results.
    """
    settings = catalogue.settings
    given = {
        "q": q,
        "intent": intent,
        "project": project,
        "since": since,
        "until": until,
        "bbox": bbox,
        "all_versions": all_versions,
        "limit": limit,
        "offset": offset,
    }
    params = {name: value for name, value in given.items() if value is not None}
    try:
        query = AssetQuery.parse(params, page_size_max=settings.web_page_size_max)
        found, more = _search(catalogue, query)
    except QueryParameterError as problem:
        return _Refusal(400, "BadQuery", str(problem)).json()
    return JSONResponse(
        {
            "items": [asset_views.summary(asset) for asset in found],
            "offset": query.offset,
            "limit": query.limit,
            "links": _pages("/api/assets", query, more),
        }
    )


@api.get("/assets/{asset_id}")
def asset_record(asset_id: str, catalogue: CatalogueDep) -> JSONResponse:
    """One asset version in any status: its document, versions, lineage, duplicates, links."""
    try:
        asset = _asset(catalogue, asset_id)
    except _Refusal as refusal:
        return refusal.json()
    return JSONResponse(asset_views.detail(catalogue, asset))


@api.get("/assets/{asset_id}/quicklook.png")
def quicklook(asset_id: str, request: Request, catalogue: CatalogueDep) -> Response:
    """The version's quicklook PNG from the lake; 404 when it has none or is not committed."""
    return _sidecar(
        catalogue, asset_id, "thumbnail", request, what="quicklook", media_type="image/png"
    )


@api.get("/assets/{asset_id}/iso19139.xml")
def iso_record(asset_id: str, request: Request, catalogue: CatalogueDep) -> Response:
    """The version's ISO 19139 record from the lake; 404 when it has none or is not committed."""
    return _sidecar(
        catalogue, asset_id, "iso19139", request, what="ISO 19139 record", media_type=None
    )


@api.get("/assets/{asset_id}/download")
def download(asset_id: str, catalogue: CatalogueDep) -> Response:
    """307 to a presigned GET URL of the data object; only for a committed version."""
    try:
        asset = _asset(catalogue, asset_id)
        _in_lake(asset, "download")
        stored = catalogue.store.head(asset.bucket, asset.s3_key)
        if stored is None:
            raise _Refusal(404, "MissingObject", f"{asset.s3_uri} is missing from the lake")
        if stored.content_hash not in {None, asset.sha256}:
            logger.error(
                "%s: content_hash %s, ledger %s", asset.s3_uri, stored.content_hash, asset.sha256
            )
            raise _Refusal(502, "IntegrityError", f"{asset.s3_uri} is not the recorded version")
    except _Refusal as refusal:
        return refusal.json()
    settings = catalogue.settings
    url = catalogue.store.presigned_url(
        asset.bucket,
        asset.s3_key,
        expires_s=settings.web_download_ttl_s,
        endpoint_url=settings.web_download_endpoint_url,
    )
    return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})


def _sidecar(
    catalogue: Catalogue,
    asset_id: str,
    role: SidecarRole,
    request: Request,
    *,
    what: str,
    media_type: str | None,
) -> Response:
    try:
        asset = _asset(catalogue, asset_id)
        _in_lake(asset, what)
        record = asset.sidecar(role)
        if record is None:
            raise _Refusal(404, "NotFound", f"asset {asset_id} has no {what}")
        if record.size > SIDECAR_MAX_BYTES:
            raise _Refusal(404, "TooLarge", f"the {what} of asset {asset_id} is too large")
        etag = f'"{record.sha256}"'
        headers = {
            "Cache-Control": SIDECAR_CACHE,
            "ETag": etag,
            "X-Content-Type-Options": "nosniff",
        }
        if etag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        try:
            data, stored = catalogue.store.get_bytes(
                asset.bucket, record.key, max_size=SIDECAR_MAX_BYTES
            )
        except ObjectNotFoundError:
            raise _Refusal(404, "MissingObject", f"the {what} is missing from the lake") from None
        if stored.sha256 != record.sha256:
            logger.error("s3://%s/%s differs from its ledger record", asset.bucket, record.key)
            raise _Refusal(502, "IntegrityError", f"the lake's {what} is not the recorded one")
    except _Refusal as refusal:
        return refusal.json()
    return Response(data, media_type=media_type or record.media_type, headers=headers)


# ----------------------------------------------------------------------------- pages


def _page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    response = render(
        request,
        name,
        status_code,
        section="assets",
        worldmap=worldmap,
        when=asset_views.when,
        size=asset_views.size,
        **context,
    )
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    return response


def _error_page(request: Request, refusal: _Refusal) -> HTMLResponse:
    title = "Asset not found" if refusal.status == 404 else "Cannot show this asset"
    return _page(request, "error.html", refusal.status, title=title, message=refusal.description)


@pages.get("/assets", response_class=HTMLResponse)
def search_page(request: Request, catalogue: CatalogueDep) -> HTMLResponse:
    """The search form, the map to draw a box on, and one page of result cards."""
    settings = catalogue.settings
    problem: QueryParameterError | None = None
    try:
        query = AssetQuery.parse(request.query_params, page_size_max=settings.web_page_size_max)
    except QueryParameterError as refused:
        problem = refused
        query = AssetQuery(raw=tuple((k, v[:200]) for k, v in request.query_params.items()))
    results: list[dict[str, Any]] = []
    paging: dict[str, str | None] = {"next": None, "previous": None}
    if problem is None:
        try:
            found, more = _search(catalogue, query)
        except QueryParameterError as refused:
            problem = refused
        else:
            results = [asset_views.summary(asset) for asset in found]
            paging = _pages("/assets", query, more)
    intents = sorted({*catalogue.intents.names(), *([query.intent] if query.intent else [])})
    return _page(
        request,
        "assets.html",
        400 if problem is not None else 200,
        query=query,
        problem=problem,
        results=results,
        paging=paging,
        intents=intents,
        selection=None if query.bbox is None else tuple(query.bbox.model_dump().values()),
    )


@pages.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(asset_id: str, request: Request, catalogue: CatalogueDep) -> HTMLResponse:
    """One asset version: quicklook, footprint, metadata, columns or bands, lineage, versions."""
    try:
        asset = _asset(catalogue, asset_id)
    except _Refusal as refusal:
        return _error_page(request, refusal)
    return _page(
        request,
        "asset.html",
        asset=asset,
        record=asset_views.detail(catalogue, asset),
        not_in_lake=_NOT_IN_LAKE.get(asset.status),
    )
