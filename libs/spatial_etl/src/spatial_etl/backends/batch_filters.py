"""MongoDB filters over the ``batches`` collection: status, uploader, project, arrival time.

Pure functions, like :mod:`spatial_etl.backends.asset_filters`: a filter is data, asserted in
tests without a server. Listings are newest first by ``received_at`` with the batch id as the
tie-breaker, and page by *keyset*: the next page starts strictly after the last batch shown
(its arrival time and id), so a page costs an index range whatever its depth, and a batch
arriving meanwhile never shifts one already listed onto the next page.

**Project** is the manifest's ``metadata.project`` as recorded (``manifest.metadata.project``):
a batch whose manifest could not be parsed has none and matches no project.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, NamedTuple

from spatial_etl.errors import BatchQueryError
from spatial_etl.models.ledger import BatchStatus

Document = dict[str, Any]

RECEIVED_AT: Final = "received_at"
UPLOADER: Final = "uploader"
PROJECT: Final = "manifest.metadata.project"

NEWEST_FIRST: Final = ((RECEIVED_AT, -1), ("_id", -1))
"""The listing order; every listing index ends with these keys, in this direction."""


class BatchKey(NamedTuple):
    """Where a batch sits in the listing: its arrival time and its id (the tie-breaker)."""

    received_at: datetime
    batch_id: str


def received_between(since: datetime | None, until: datetime | None) -> Document:
    """Batches received at or after ``since`` and before ``until`` (either may be None).

    Half-open, as the asset windows are: consecutive windows never list a batch twice.
    Raises :class:`BatchQueryError` for naive instants and an empty window.
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise BatchQueryError(f"{name} must be timezone aware, not {value.isoformat()}")
    if since is not None and until is not None and since >= until:
        raise BatchQueryError(
            f"since ({since.isoformat()}) must be before until ({until.isoformat()}): since is "
            "inclusive, until exclusive"
        )
    bounds: Document = {}
    if since is not None:
        bounds["$gte"] = since
    if until is not None:
        bounds["$lt"] = until
    return {RECEIVED_AT: bounds} if bounds else {}


def after_key(key: BatchKey) -> Document:
    """Batches listed after ``key`` in newest-first order (older, or as old with a lower id)."""
    if key.received_at.tzinfo is None:
        raise BatchQueryError("a listing position needs a timezone-aware arrival time")
    return {
        "$or": [
            {RECEIVED_AT: {"$lt": key.received_at}},
            {RECEIVED_AT: key.received_at, "_id": {"$lt": key.batch_id}},
        ]
    }


def batch_filter(
    *,
    status: BatchStatus | None = None,
    uploader: str | None = None,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: BatchKey | None = None,
) -> Document:
    """The filter of ``Ledger.list_batches``: every given criterion must hold."""
    query: Document = {}
    if status is not None:
        query["status"] = status
    if uploader is not None:
        query[UPLOADER] = uploader
    if project is not None:
        query[PROJECT] = project
    window = received_between(since, until)
    if after is None:
        query.update(window)
        return query
    # the window and the position both bound received_at: two clauses, not one merged dict
    clauses = [clause for clause in (window, after_key(after)) if clause]
    return {**query, "$and": clauses}
