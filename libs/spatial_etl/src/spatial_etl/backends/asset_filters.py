"""MongoDB filters over the ``assets`` collection: project, commit time and WGS84 extent.

Pure functions (a filter is data, asserted in tests without a server). They use plain query
operators and one ``$expr`` comparing two fields of the same document (MongoDB 3.6+), so the
same filter runs on a server and on mongomock.

**Extent.** An asset's box is read from ``iso19115.extent.{west,south,east,north}``: numeric
fields of a sub-document, which an index can hold (``bbox_wgs84``, an array, cannot be
indexed by position), and which the models require equal to ``bbox_wgs84``. A box with
``west > east`` crosses the antimeridian: it is the union of ``[west, 180]`` and
``[-180, east]``. Two boxes intersect when their latitudes overlap and one longitude piece of
each overlaps one of the other; edges are closed, so touching counts. An asset with no
extent matches no box.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from spatial_etl.errors import AssetQueryError
from spatial_etl.models.asset_search import SearchBox, check_window

Document = dict[str, Any]

EXTENT: Final = "iso19115.extent"
WEST: Final = f"{EXTENT}.west"
SOUTH: Final = f"{EXTENT}.south"
EAST: Final = f"{EXTENT}.east"
NORTH: Final = f"{EXTENT}.north"
PROJECT: Final = "provenance.project"
COMMITTED_AT: Final = "committed_at"
TEXT_FIELDS: Final = ("dataset", "iso19115.title", "provenance.description")
"""What a text search reads: the dataset's name, the version's title, the user's description."""
TEXT_MAX_LENGTH: Final = 100
"""Longest text a search takes: a person's words, not a document (each is a regex scan)."""

_CROSSES: Final[Document] = {"$expr": {"$gt": [f"${WEST}", f"${EAST}"]}}
"""The asset's own box crosses the antimeridian (west > east)."""


def extent_filter(box: SearchBox) -> Document:
    """Assets whose extent intersects ``box`` (see the module's docstring for the rules).

    Every ``$or`` branch bounds ``west`` or ``east`` with a range, so each can use an extent
    index; the ``$expr`` only tells crossing assets apart among the documents a range found.
    It comes last in an ``$and`` after a range on the extent, so it is never evaluated on an
    asset without one (mongomock cannot resolve a path through a null sub-document).
    """
    west, east = box.west, box.east
    if not box.crosses_antimeridian:
        branches: list[Document] = [
            # plain overlap of [w, e] and [W, E] (a crossing asset too, when both ends reach)
            {WEST: {"$lte": east}, EAST: {"$gte": west}},
            # a crossing asset's [w, 180] piece reaches the box
            {"$and": [{WEST: {"$lte": east}}, _CROSSES]},
            # a crossing asset's [-180, e] piece reaches the box
            {"$and": [{EAST: {"$gte": west}}, _CROSSES]},
        ]
    else:
        branches = [
            # the asset reaches [W, 180] from the west, or [-180, E] from the east
            {EAST: {"$gte": west}},
            {WEST: {"$lte": east}},
            # a crossing asset whose ends reach neither still shares the antimeridian
            {"$and": [{WEST: {"$gt": east}, EAST: {"$lt": west}}, _CROSSES]},
        ]
    return {SOUTH: {"$lte": box.north}, NORTH: {"$gte": box.south}, "$or": branches}


def committed_between(since: datetime | None, until: datetime | None) -> Document:
    """Assets committed at or after ``since`` and before ``until`` (either may be None).

    Half-open, so consecutive windows never count an asset twice. Only committed assets
    have a commit time: any other status matches no window.
    """
    check_window(since, until)
    bounds: Document = {}
    if since is not None:
        bounds["$gte"] = since
    if until is not None:
        bounds["$lt"] = until
    return {COMMITTED_AT: bounds} if bounds else {}


def asset_filter(
    *,
    status: str,
    intent: str | None = None,
    dataset: str | None = None,
    project: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    bbox: SearchBox | None = None,
) -> Document:
    """The filter of ``Ledger.list_assets``: every given criterion must hold."""
    query: Document = {"status": status}
    if intent is not None:
        query["intent"] = intent
    if dataset is not None:
        query["dataset"] = dataset
    if project is not None:
        query[PROJECT] = project
    query.update(committed_between(since, until))
    if bbox is not None:
        query.update(extent_filter(bbox))
    return query


def text_filter(text: str) -> Document:
    """Assets whose dataset, title or description contains ``text``, ignoring case.

    The text is matched literally (``re.escape``: a user's ``.*`` is two characters, never a
    pattern) and bounded by :data:`TEXT_MAX_LENGTH`, since an unanchored case-insensitive
    regex cannot use an index and is evaluated on every document the other criteria keep.
    Raises :class:`AssetQueryError` for an empty or too long text.
    """
    stripped = text.strip()
    if not stripped:
        raise AssetQueryError("a text search needs at least one character that is not a space")
    if len(stripped) > TEXT_MAX_LENGTH:
        raise AssetQueryError(
            f"a text search is at most {TEXT_MAX_LENGTH} characters, not {len(stripped)}"
        )
    pattern = {"$regex": re.escape(stripped), "$options": "i"}
    return {"$or": [{field: pattern} for field in TEXT_FIELDS]}
