"""Refusals shared by the batch and intent sections: a bad query value, an unknown id, a page.

A refusal names what the user controls (the parameter, the id) and nothing of the server. The
JSON form is ``{"code", "description"}``; a page refusal is ``error.html`` with the same text.
Query values are parsed here rather than by FastAPI's validation so every refusal, whatever
the parameter, has that one shape and names its parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Final

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse
from spatial_etl.errors import AssetQueryError
from spatial_etl.models.asset_search import parse_instant

from spatial_etl_web.templating import render

DEFAULT_PAGE_SIZE: Final = 50
"""Rows per page when ``limit`` is not given (never more than ``web_page_size_max``)."""

MAX_TEXT: Final = 200
"""Longest value a text filter takes: filters match exactly, so longer matches nothing."""


class QueryProblem(Exception):  # noqa: N818 - a refusal, answered as 400, never raised out
    """A query parameter the catalogue cannot use; answered 400 with the parameter named."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter


def json_refusal(status: int, code: str, description: str) -> JSONResponse:
    """The JSON API's refusal: ``{"code", "description"}``."""
    return JSONResponse({"code": code, "description": description}, status_code=status)


def bad_query(problem: QueryProblem) -> JSONResponse:
    """400 naming the parameter."""
    return json_refusal(400, "BadQuery", str(problem))


def page_refusal(
    request: Request, status: int, title: str, message: str, *, section: str
) -> HTMLResponse:
    """A page of ``section`` saying why nothing is shown (the message is escaped like any text)."""
    return render(
        request, "error.html", status_code=status, title=title, message=message, section=section
    )


def given(raw: str | None) -> str | None:
    """A query value, or None when absent or blank (an empty form field means no filter)."""
    if raw is None or not raw.strip():
        return None
    return raw.strip()


def text_filter(name: str, raw: str | None) -> str | None:
    """An exact-match text filter, bounded in length."""
    value = given(raw)
    if value is not None and len(value) > MAX_TEXT:
        raise QueryProblem(name, f"at most {MAX_TEXT} characters")
    return value


def page_size(raw: str | None, maximum: int) -> int:
    """``limit``: 1 to ``maximum`` (``web_page_size_max``); a larger value is refused, not cut.

    Refusing tells a client its page is not what it asked for; clamping would let it take a
    short page for the end of the listing.
    """
    value = given(raw)
    if value is None:
        return min(DEFAULT_PAGE_SIZE, maximum)
    try:
        number = int(value)
    except ValueError:
        raise QueryProblem("limit", f"{value[:20]!r} is not a whole number") from None
    if not 1 <= number <= maximum:
        raise QueryProblem("limit", f"must be between 1 and {maximum}, not {number}")
    return number


def instant(name: str, raw: str | None) -> datetime | None:
    """An ISO 8601 date or date-time (UTC when it has no offset)."""
    value = given(raw)
    if value is None:
        return None
    if len(value) > 40:
        raise QueryProblem(name, "not an ISO 8601 date or date-time")
    try:
        return parse_instant(value)
    except AssetQueryError as error:
        raise QueryProblem(name, str(error)) from None


def window(since: datetime | None, until: datetime | None) -> None:
    """``since`` must come before ``until`` (inclusive start, exclusive end)."""
    if since is not None and until is not None and since >= until:
        raise QueryProblem("until", "must be later than since (since is inclusive, until not)")


def encode_cursor(values: list[Any]) -> str:
    """An opaque position token: URL-safe base64 of a JSON list, without padding."""
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str | None) -> list[Any] | None:
    """The list :func:`encode_cursor` made, or None when absent; anything else is refused."""
    value = given(raw)
    if value is None:
        return None
    if len(value) > 2048:
        raise QueryProblem("cursor", "is not a position this catalogue gave")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError):
        raise QueryProblem("cursor", "is not a position this catalogue gave") from None
    if not isinstance(decoded, list):
        raise QueryProblem("cursor", "is not a position this catalogue gave")
    return decoded


def iso(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC with a ``Z`` (milliseconds, what the ledger keeps)."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
