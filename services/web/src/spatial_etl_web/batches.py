"""Batches: newest first, with their status, problems, runs and assets.

One view of a batch serves the JSON API and the pages (:func:`batch_summary`,
:func:`batch_detail`): plain JSON values, so the page shows exactly what the API returns.
The ledger's ``received`` is called *waiting* here, as users say it: the manifest arrived,
its files are awaited or its run not yet started.

Listings page by position (:class:`~spatial_etl.backends.batch_filters.BatchKey`, carried as
an opaque ``cursor``), never by offset, so every page costs one index range.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from spatial_etl.backends.batch_filters import BatchKey
from spatial_etl.models.asset_search import parse_instant
from spatial_etl.models.ledger import AssetDocument, BatchDocument, BatchStatus, RunDocument

from spatial_etl_web.catalogue import Catalogue
from spatial_etl_web.replies import (
    QueryProblem,
    bad_query,
    decode_cursor,
    encode_cursor,
    instant,
    iso,
    json_refusal,
    page_refusal,
    page_size,
    text_filter,
    window,
)
from spatial_etl_web.templating import render

api = APIRouter(tags=["batches"])
"""The JSON routes (mounted under ``/api``)."""

pages = APIRouter(include_in_schema=False)
"""The HTML routes."""

STATES: Final[Mapping[str, BatchStatus]] = {
    "waiting": "received",
    "running": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "rejected": "rejected",
}
"""The statuses people filter by, and the ledger's word for each."""

_ALIASES: Final[Mapping[str, BatchStatus]] = {"received": "received"}
"""Also accepted as a filter: the ledger's own word."""

MAX_ID: Final = 1024
"""Longest batch id the ledger records."""

MAX_ASSETS_SHOWN: Final = 1000
"""Assets listed with a batch (a batch of many files or layers lists the first ones only)."""

FORM_FIELDS: Final = ("status", "uploader", "project", "since", "until", "limit")
"""The listing's filters, as its form and its next-page links carry them."""


def _catalogue(request: Request) -> Catalogue:
    from spatial_etl_web.app import catalogue_of  # noqa: PLC0415 - app imports this module

    return catalogue_of(request)


CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]


# --- the view of a batch --------------------------------------------------------------------


def state_of(status: str) -> str:
    """The status as people read it (``received`` is *waiting*)."""
    return "waiting" if status == "received" else status


def batch_path(batch_id: str, *, api_path: bool = False) -> str:
    """The page (or JSON) URL of a batch; the id is one path segment, escaped."""
    return f"{'/api' if api_path else ''}/batches/{quote(batch_id, safe='')}"


def _manifest_part(doc: BatchDocument, *path: str) -> Any:
    value: Any = doc.manifest
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def batch_summary(doc: BatchDocument) -> dict[str, Any]:
    """A row of the listing: what identifies the batch and where it is."""
    return {
        "batch_id": doc.batch_id,
        "status": state_of(doc.status),
        "ledger_status": doc.status,
        "intent": doc.intent,
        "uploader": doc.uploader,
        "project": _text(_manifest_part(doc, "metadata", "project")),
        "description": _text(_manifest_part(doc, "metadata", "description")),
        "received_at": iso(doc.received_at),
        "updated_at": iso(doc.updated_at),
        "run_count": len(doc.run_ids),
        "problem_count": len(doc.problems),
        "links": {
            "self": batch_path(doc.batch_id, api_path=True),
            "page": batch_path(doc.batch_id),
        },
    }


def _files(doc: BatchDocument) -> list[dict[str, str | None]]:
    files = _manifest_part(doc, "files")
    found: list[dict[str, str | None]] = []
    for item in files if isinstance(files, list) else []:
        if isinstance(item, dict):
            found.append({key: _text(item.get(key)) for key in ("path", "type", "format", "crs")})
    return found


def run_view(run: RunDocument) -> dict[str, Any]:
    """A run: outcome, where it failed, how long each stage took."""
    duration = (
        None if run.finished_at is None else (run.finished_at - run.started_at).total_seconds()
    )
    error = run.error
    return {
        "run_id": run.run_id,
        "status": run.status,
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration_s": duration,
        "plugin": {"name": run.plugin.name, "version": run.plugin.version},
        "error": None
        if error is None
        else {"message": error.message, "type": error.type, "step": error.step, "file": error.file},
        "timings": [{"stage": stage, "seconds": seconds} for stage, seconds in run.timings.items()],
        "steps": [
            {
                "step": item.step,
                "kind": item.kind,
                "file": item.file,
                "status": item.status,
                "seconds": item.seconds,
            }
            for item in run.steps
        ],
        "inputs": [
            {"path": item.path, "sha256": item.sha256, "size": item.size} for item in run.inputs
        ],
        "outputs": len(run.outputs),
        "versions": dict(run.versions),
    }


def asset_view(asset: AssetDocument) -> dict[str, Any]:
    """An asset of the batch; only a committed one (or the original of a duplicate) has a page."""
    shown = asset.duplicate_of if asset.status == "duplicate" else asset.asset_id
    linked = asset.status in ("committed", "duplicate") and shown is not None
    return {
        "asset_id": asset.asset_id,
        "status": asset.status,
        "intent": asset.intent,
        "dataset": asset.dataset,
        "version": asset.version,
        "format": asset.format,
        "run_id": asset.run_id,
        "duplicate_of": asset.duplicate_of,
        "failure": asset.failure,
        "links": {"page": f"/assets/{shown}", "self": f"/api/assets/{shown}"} if linked else None,
    }


def batch_detail(
    doc: BatchDocument, runs: list[RunDocument], assets: list[AssetDocument]
) -> dict[str, Any]:
    """The batch with its problems, files, runs and assets (what its page shows)."""
    last = runs[-1] if runs else None
    failure = run_view(last)["error"] if doc.status == "failed" and last and last.error else None
    return {
        **batch_summary(doc),
        "manifest_key": doc.manifest_key,
        "problems": [
            {"loc": problem.loc, "code": problem.code, "message": problem.message}
            for problem in doc.problems
        ],
        "failure": failure,
        "files": _files(doc),
        "manifest": doc.manifest,
        "runs": [run_view(run) for run in runs],
        "assets": [asset_view(asset) for asset in assets],
    }


# --- queries -------------------------------------------------------------------------------


class BatchQuery:
    """A listing request, parsed once from the query string; refusals name the parameter."""

    def __init__(self, params: Mapping[str, str], maximum: int) -> None:
        self.status_text = text_filter("status", params.get("status"))
        self.status: BatchStatus | None = None
        if self.status_text is not None:
            found = STATES.get(self.status_text) or _ALIASES.get(self.status_text)
            if found is None:
                raise QueryProblem("status", f"one of {', '.join(STATES)}")
            self.status = found
        self.uploader = text_filter("uploader", params.get("uploader"))
        self.project = text_filter("project", params.get("project"))
        self.since = instant("since", params.get("since"))
        self.until = instant("until", params.get("until"))
        window(self.since, self.until)
        self.limit = page_size(params.get("limit"), maximum)
        self.after = _position(decode_cursor(params.get("cursor")))
        self.form = {name: params.get(name, "") for name in FORM_FIELDS}

    def run(self, catalogue: Catalogue) -> tuple[list[BatchDocument], str | None]:
        """One page, and the cursor of the next when another batch follows it.

        One batch more than the page is read, so the last page never links to an empty one.
        """
        found = catalogue.ledger.list_batches(
            status=self.status,
            uploader=self.uploader,
            project=self.project,
            since=self.since,
            until=self.until,
            after=self.after,
            limit=self.limit + 1,
        )
        if len(found) <= self.limit:
            return found, None
        last = found[self.limit - 1]
        return found[: self.limit], encode_cursor([iso(last.received_at), last.batch_id])

    def url(self, base: str, cursor: str) -> str:
        """The next page's URL: the same filters, the given position."""
        kept = {key: value for key, value in self.form.items() if value}
        return f"{base}?{urlencode({**kept, 'cursor': cursor})}"


def _position(decoded: list[Any] | None) -> BatchKey | None:
    if decoded is None:
        return None
    if len(decoded) == 2 and all(isinstance(part, str) for part in decoded):
        try:
            when: datetime = parse_instant(decoded[0])
        except ValueError:
            pass
        else:
            return BatchKey(when, decoded[1])
    raise QueryProblem("cursor", "is not a position this catalogue gave")


# --- routes ----------------------------------------------------------------------------------


def _text_query(description: str) -> Any:
    return Query(description=description)


@api.get("/batches", summary="Batches, newest first")
def list_batches(
    catalogue: CatalogueDep,
    *,
    status: Annotated[
        str | None, _text_query("waiting, running, succeeded, failed or rejected")
    ] = None,
    uploader: Annotated[str | None, _text_query("The manifest's uploader, exactly")] = None,
    project: Annotated[str | None, _text_query("The manifest's metadata.project, exactly")] = None,
    since: Annotated[
        str | None, _text_query("Received at or after (ISO 8601; UTC unless an offset)")
    ] = None,
    until: Annotated[str | None, _text_query("Received before (ISO 8601)")] = None,
    limit: Annotated[str | None, _text_query("Batches per page, 1 to the page limit")] = None,
    cursor: Annotated[str | None, _text_query("The previous page's next")] = None,
) -> Response:
    """Batches newest first by arrival, filtered; ``next`` is null on the last page.

    Every value is checked here (not by FastAPI), so a refusal is always 400 with
    ``{"code": "BadQuery", "description": "<parameter>: ..."}``; a ``limit`` above the
    catalogue's page size limit is refused, not clamped.
    """
    given_values = {
        "status": status,
        "uploader": uploader,
        "project": project,
        "since": since,
        "until": until,
        "limit": limit,
        "cursor": cursor,
    }
    params = {key: value for key, value in given_values.items() if value is not None}
    try:
        query = BatchQuery(params, catalogue.settings.web_page_size_max)
    except QueryProblem as problem:
        return bad_query(problem)
    found, cursor = query.run(catalogue)
    return JSONResponse(
        {
            "batches": [batch_summary(doc) for doc in found],
            "limit": query.limit,
            "next": cursor,
            "links": {"next": query.url("/api/batches", cursor) if cursor else None},
        }
    )


@api.get("/batches/{batch_id}", summary="A batch with its problems, runs and assets")
def show_batch(batch_id: str, catalogue: CatalogueDep) -> Response:
    """The batch: status, problems (each with its location), failure, runs, assets."""
    detail = _detail(catalogue, batch_id)
    if detail is None:
        return json_refusal(404, "NotFound", f"no batch {batch_id[:200]!r}")
    return JSONResponse(detail)


def _detail(catalogue: Catalogue, batch_id: str) -> dict[str, Any] | None:
    if len(batch_id) > MAX_ID:
        return None
    doc = catalogue.ledger.get_batch(batch_id)
    if doc is None:
        return None
    ledger = catalogue.ledger
    cap = MAX_ASSETS_SHOWN
    assets = ledger.assets_of_batch(batch_id, limit=cap + 1)
    detail = batch_detail(doc, ledger.runs_of_batch(batch_id), assets[:cap])
    detail["assets_truncated"] = len(assets) > cap
    return detail


@pages.get("/batches", response_class=HTMLResponse)
def batches_page(request: Request, catalogue: CatalogueDep) -> HTMLResponse:
    """The filter form and one page of batches."""
    maximum = catalogue.settings.web_page_size_max
    try:
        query = BatchQuery(request.query_params, maximum)
    except QueryProblem as problem:
        form = {key: request.query_params.get(key, "") for key in FORM_FIELDS}
        return render(
            request,
            "batches.html",
            status_code=400,
            section="batches",
            states=list(STATES),
            form=form,
            problem=str(problem),
            batches=[],
            next_url=None,
            maximum=maximum,
        )
    found, cursor = query.run(catalogue)
    return render(
        request,
        "batches.html",
        section="batches",
        states=list(STATES),
        form=query.form,
        problem=None,
        batches=[batch_summary(doc) for doc in found],
        next_url=query.url("/batches", cursor) if cursor else None,
        maximum=maximum,
    )


@pages.get("/batches/{batch_id}", response_class=HTMLResponse)
def batch_page(request: Request, batch_id: str, catalogue: CatalogueDep) -> HTMLResponse:
    """A batch: its status, rejection report or failure, runs with timings, assets."""
    detail = _detail(catalogue, batch_id)
    if detail is None:
        return page_refusal(
            request,
            404,
            "Batch not found",
            f"No batch {batch_id[:200]!r} is recorded.",
            section="batches",
        )
    manifest = detail["manifest"]
    text = None if manifest is None else json.dumps(manifest, indent=2, ensure_ascii=False)
    return render(request, "batches_show.html", section="batches", batch=detail, manifest_text=text)
