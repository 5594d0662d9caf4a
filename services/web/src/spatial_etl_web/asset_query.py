"""An asset search as a browser or a client writes it: query parameters, checked once.

Every parameter arrives as text (a form submits empty fields as ``""``, which means "not
given"), so the page and the API share one parser whose errors name the parameter. Bounds:
``limit`` at most ``web_page_size_max`` (a larger one is refused, not clamped, so a client
never believes it got everything), ``offset`` at most :data:`OFFSET_MAX`, text at most
:data:`~spatial_etl.backends.asset_filters.TEXT_MAX_LENGTH` characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final
from urllib.parse import urlencode

from spatial_etl.backends.asset_filters import TEXT_MAX_LENGTH
from spatial_etl.errors import AssetQueryError
from spatial_etl.models.asset_search import SearchBox, parse_instant
from spatial_etl.models.manifest import INTENT_NAME_PATTERN

DEFAULT_LIMIT: Final = 20
OFFSET_MAX: Final = 10_000
"""Deepest page offset: each page re-runs the search, so its cost grows with the offset."""
PROJECT_MAX_LENGTH: Final = 200
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})
FIELDS: Final = ("q", "intent", "project", "since", "until", "bbox", "all_versions", "limit")
"""The parameters a search keeps from page to page (``offset`` changes)."""


class QueryParameterError(ValueError):
    """A query parameter that cannot be used; ``param`` names it for the client."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True)
class AssetQuery:
    """A checked search: the criteria of ``Ledger.search_assets`` and the page asked for."""

    text: str | None = None
    intent: str | None = None
    project: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    bbox: SearchBox | None = None
    all_versions: bool = False
    offset: int = 0
    limit: int = DEFAULT_LIMIT
    raw: tuple[tuple[str, str], ...] = ()
    """The parameters as given (non-empty ones of :data:`FIELDS`), for links and the form."""

    @classmethod
    def parse(cls, params: Mapping[str, str], *, page_size_max: int) -> AssetQuery:
        """The search ``params`` describe; :class:`QueryParameterError` names the first bad one."""
        given = {name: params.get(name, "").strip() for name in (*FIELDS, "offset")}
        text = given["q"] or None
        if text is not None and len(text) > TEXT_MAX_LENGTH:
            raise QueryParameterError("q", f"at most {TEXT_MAX_LENGTH} characters, not {len(text)}")
        intent = given["intent"] or None
        if intent is not None and not re.match(INTENT_NAME_PATTERN, intent):
            raise QueryParameterError("intent", f"{intent[:80]!r} is not an intent name")
        project = given["project"] or None
        if project is not None and len(project) > PROJECT_MAX_LENGTH:
            raise QueryParameterError("project", f"at most {PROJECT_MAX_LENGTH} characters")
        since, until = _instant("since", given["since"]), _instant("until", given["until"])
        if since is not None and until is not None and since >= until:
            raise QueryParameterError(
                "until", "must be after since (since is included, until excluded)"
            )
        bbox = None
        if given["bbox"]:
            try:
                bbox = SearchBox.parse(given["bbox"][:200])
            except AssetQueryError as error:
                raise QueryParameterError("bbox", str(error)) from None
        flag = given["all_versions"].lower()
        if flag not in _TRUE | _FALSE:
            raise QueryParameterError("all_versions", "true or false")
        limit = _integer("limit", given["limit"], min(DEFAULT_LIMIT, page_size_max))
        if not 1 <= limit <= page_size_max:
            raise QueryParameterError("limit", f"between 1 and {page_size_max}, not {limit}")
        offset = _integer("offset", given["offset"], 0)
        if not 0 <= offset <= OFFSET_MAX:
            raise QueryParameterError("offset", f"between 0 and {OFFSET_MAX}, not {offset}")
        raw = tuple((name, given[name]) for name in FIELDS if given[name])
        return cls(
            text=text,
            intent=intent,
            project=project,
            since=since,
            until=until,
            bbox=bbox,
            all_versions=flag in _TRUE,
            offset=offset,
            limit=limit,
            raw=raw,
        )

    def value(self, name: str) -> str:
        """What the user gave for ``name`` (``""`` if nothing), to fill the form again."""
        return dict(self.raw).get(name, "")

    def page(self, offset: int) -> AssetQuery:
        """The same search at another offset."""
        return replace(self, offset=offset)

    def query_string(self) -> str:
        """The parameters of this search and page, for a link (``offset`` left out at 0)."""
        pairs = list(self.raw)
        if self.offset:
            pairs.append(("offset", str(self.offset)))
        return urlencode(pairs)


def _instant(name: str, text: str) -> datetime | None:
    if not text:
        return None
    try:
        return parse_instant(text[:64])
    except AssetQueryError as error:
        raise QueryParameterError(name, str(error)) from None


def _integer(name: str, text: str, default: int) -> int:
    if not text:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", text):
        raise QueryParameterError(name, f"a whole number, not {text[:40]!r}")
    return int(text)
