"""What a STAC client may ask: bbox, datetime, collections, ids, limit and the paging token.

Parsed here once, from a query string (GET) or a JSON body (POST), into :class:`ItemQuery`;
every problem raises :class:`StacError` with status 400 naming the parameter, which the
application answers as a STAC API error (``{"code", "description"}``). Ids are parsed by the
lake's naming rules (``<intent>.<dataset>`` for a Collection, ``<intent>.<dataset>.v<N>`` for
an Item; an intent has no dot), so no lookup is needed to turn an id into a ledger query.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

from spatial_etl.errors import AssetQueryError
from spatial_etl.models.asset_search import SearchBox, parse_instant
from spatial_etl.models.manifest import DATASET_NAME_PATTERN, INTENT_NAME_PATTERN

DEFAULT_LIMIT: Final = 10
"""The page size when a client names none (the STAC API's usual default)."""
MAX_IDS: Final = 100
"""Most ids or collections one search may name: bounds the query the ledger runs."""
MAX_TEXT: Final = 4096
"""Longest text a parameter may be (a long list of ids included)."""

_INTENT: Final = re.compile(INTENT_NAME_PATTERN)
_DATASET: Final = re.compile(DATASET_NAME_PATTERN)
_OPEN: Final = frozenset({"", ".."})


class StacError(Exception):
    """A request the STAC API answers with ``{"code", "description"}`` and ``status``."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.code = code
        self.description = description


def bad(parameter: str, message: str) -> StacError:
    """A 400 naming the parameter at fault."""
    return StacError(400, "InvalidParameterValue", f"{parameter}: {message}")


def not_found(description: str) -> StacError:
    """A 404 with a readable description."""
    return StacError(404, "NotFound", description)


DatasetKey = tuple[str, str]
VersionKey = tuple[str, str, int]


@dataclass(frozen=True)
class ItemQuery:
    """One page of an item search; ``None`` criteria are not applied."""

    limit: int
    bbox: SearchBox | None = None
    start: datetime | None = None
    end: datetime | None = None
    datasets: tuple[DatasetKey, ...] | None = None
    versions: tuple[VersionKey, ...] | None = None
    after: VersionKey | None = None

    def resumed(self, after: VersionKey) -> ItemQuery:
        """The same search, past ``after``."""
        return replace(self, after=after)


def collection_key(collection_id: str) -> DatasetKey | None:
    """``(intent, dataset)`` of a Collection id, or None if it cannot name one."""
    intent, dot, dataset = collection_id.partition(".")
    if not dot or not _INTENT.match(intent) or not _DATASET.match(dataset):
        return None
    return intent, dataset


def item_key(item_id: str) -> VersionKey | None:
    """``(intent, dataset, version)`` of an Item id, or None if it cannot name one."""
    collection, dot, version = item_id.rpartition(".v")
    key = collection_key(collection) if dot else None
    if key is None or not version.isdigit() or len(version) > 9 or int(version) < 1:
        return None
    return key[0], key[1], int(version)


def parse_limit(value: object, maximum: int) -> int:
    """A page size: at least 1; above ``maximum`` it is clamped, as OGC API Features says."""
    if value is None or value == "":
        return min(DEFAULT_LIMIT, maximum)
    if isinstance(value, bool):
        raise bad("limit", f"{value!r} is not an integer")
    try:
        number = int(value) if isinstance(value, int) else int(str(value).strip(), 10)
    except ValueError:
        raise bad("limit", f"{_short(value)!r} is not an integer") from None
    if number < 1:
        raise bad("limit", f"must be at least 1, not {number}")
    return min(number, maximum)


def parse_bbox(value: object) -> SearchBox | None:
    """``W,S,E,N`` (text or four numbers); six numbers keep their horizontal part."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        parts: list[object] = list(_text("bbox", value).split(","))
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise bad("bbox", "expected W,S,E,N")
    if len(parts) == 6:
        parts = [parts[0], parts[1], parts[3], parts[4]]
    if any(isinstance(part, bool) for part in parts):
        raise bad("bbox", "expected four numbers W,S,E,N")
    try:
        return SearchBox.parse(",".join(str(part) for part in parts))
    except AssetQueryError as error:
        raise bad("bbox", str(error)) from None


def parse_datetime(value: object) -> tuple[datetime | None, datetime | None]:
    """An RFC 3339 instant, or an interval ``start/end`` with ``..`` or nothing for an open end.

    Both ends are closed; an instant is the interval from itself to itself.
    """
    if value is None or value == "":
        return None, None
    if not isinstance(value, str):
        raise bad("datetime", "expected an RFC 3339 date-time or interval")
    text = _text("datetime", value).strip()
    if "/" not in text:
        instant = _instant(text)
        return instant, instant
    first, _, second = text.partition("/")
    if "/" in second:
        raise bad("datetime", f"{_short(text)!r} has more than two ends")
    if first.strip() in _OPEN and second.strip() in _OPEN:
        raise bad("datetime", "an interval needs at least one end (not '../..')")
    start = None if first.strip() in _OPEN else _instant(first)
    end = None if second.strip() in _OPEN else _instant(second)
    if start is not None and end is not None and start > end:
        raise bad("datetime", f"the start {first} is after the end {second}")
    return start, end


def parse_names(parameter: str, value: object) -> tuple[str, ...] | None:
    """A list of ids: comma-separated text (GET) or a JSON array of strings (POST)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        names = [part.strip() for part in _text(parameter, value).split(",") if part.strip()]
    elif isinstance(value, list | tuple) and all(isinstance(part, str) for part in value):
        names = [str(part) for part in value]
    else:
        raise bad(parameter, "expected a list of strings")
    if len(names) > MAX_IDS:
        raise bad(parameter, f"at most {MAX_IDS} values, not {len(names)}")
    return tuple(names)


def encode_token(after: VersionKey) -> str:
    """An opaque token for the page after the item with this key."""
    raw = json.dumps(list(after), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(value: object) -> VersionKey | None:
    """The key a token resumes after; 400 for anything this server did not write."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise bad("token", "not a token of this server")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        raise bad("token", "not a token of this server") from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 3
        or not all(isinstance(part, str) for part in decoded[:2])
        or not isinstance(decoded[2], int)
    ):
        raise bad("token", "not a token of this server")
    return str(decoded[0]), str(decoded[1]), int(decoded[2])


def item_query(
    values: Mapping[str, Any], maximum: int, *, collection: DatasetKey | None = None
) -> ItemQuery:
    """An item search from its parameters (query string or body); ``collection`` fixes one.

    ``intersects`` is refused (the ledger indexes boxes, not geometries); other parameters
    this server does not implement are ignored, as the STAC API allows.
    """
    if values.get("intersects") is not None:
        raise bad("intersects", "not supported by this server; use bbox")
    start, end = parse_datetime(values.get("datetime"))
    datasets: tuple[DatasetKey, ...] | None = None
    if collection is not None:
        datasets = (collection,)
    else:
        names = parse_names("collections", values.get("collections"))
        if names is not None:  # an id naming no dataset matches nothing
            datasets = tuple(key for key in map(collection_key, names) if key is not None)
    ids = parse_names("ids", values.get("ids"))
    versions = None
    if ids is not None:
        versions = tuple(key for key in map(item_key, ids) if key is not None)
    return ItemQuery(
        limit=parse_limit(values.get("limit"), maximum),
        bbox=parse_bbox(values.get("bbox")),
        start=start,
        end=end,
        datasets=datasets,
        versions=versions,
        after=decode_token(values.get("token")),
    )


def query_string(values: Mapping[str, Any], token: str) -> dict[str, str]:
    """The GET parameters of the next page: the same search, the new token."""
    kept = {
        name: _as_text(values[name])
        for name in ("bbox", "datetime", "collections", "ids", "limit")
        if values.get(name) not in (None, "")
    }
    kept["token"] = token
    return kept


def _as_text(value: object) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(part) for part in value)
    return str(value)


def _instant(text: str) -> datetime:
    candidate = text.strip()
    if not candidate:
        raise bad("datetime", "an empty date-time")
    try:
        return parse_instant(candidate.replace("z", "Z"))
    except AssetQueryError as error:
        raise bad("datetime", str(error)) from None


def _text(parameter: str, value: str) -> str:
    if len(value) > MAX_TEXT:
        raise bad(parameter, f"longer than {MAX_TEXT} characters")
    return value


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
