"""What a reader may ask of the lake's assets: a WGS84 search box and instants in time.

A person types these (``spatial-etl assets list --bbox 170,-20,-170,-10 --since 2025-03-01``)
and the ledger turns them into queries, so the text forms are parsed here, once, with messages
that say what was wrong; :mod:`spatial_etl.backends.asset_filters` makes the MongoDB filters.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from spatial_etl.errors import AssetQueryError

_Longitude = Annotated[float, Field(ge=-180, le=180)]
_Latitude = Annotated[float, Field(ge=-90, le=90)]
_LIMITS = {"west": 180.0, "south": 90.0, "east": 180.0, "north": 90.0}

BOX_FORMAT = "W,S,E,N (west, south, east, north in WGS84 degrees)"
"""How a search box is written, for messages and help."""


class SearchBox(BaseModel):
    """A box in WGS84 degrees; ``west > east`` means it crosses the antimeridian.

    Edges are closed: an asset touching the box (sharing an edge or a corner) intersects it.
    ``west == east`` is a box one meridian wide, not the whole world (that is -180..180).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    west: _Longitude
    south: _Latitude
    east: _Longitude
    north: _Latitude

    @model_validator(mode="after")
    def _south_of_north(self) -> Self:
        if self.south > self.north:
            raise ValueError(f"south ({self.south:g}) must not be north of north ({self.north:g})")
        return self

    @property
    def crosses_antimeridian(self) -> bool:
        """Whether the box runs east from ``west`` over 180° to ``east``."""
        return self.west > self.east

    @classmethod
    def parse(cls, text: str) -> SearchBox:
        """A box from ``W,S,E,N``; :class:`AssetQueryError` lists every problem at once."""
        parts = [part.strip() for part in text.split(",")]
        if len(parts) != 4:
            raise AssetQueryError(f"a box is four numbers {BOX_FORMAT}, not {text!r}")
        values: dict[str, float] = {}
        problems: list[str] = []
        for name, part in zip(_LIMITS, parts, strict=True):
            try:
                value = float(part)
            except ValueError:
                problems.append(f"{name} {part!r} is not a number")
                continue
            if not math.isfinite(value) or abs(value) > _LIMITS[name]:
                limit = _LIMITS[name]
                problems.append(f"{name} {part} is not within -{limit:g} and {limit:g}")
                continue
            values[name] = value
        if not problems and values["south"] > values["north"]:
            problems.append(
                f"south {parts[1]} is north of north {parts[3]} (a box is {BOX_FORMAT})"
            )
        if problems:
            raise AssetQueryError("; ".join(problems))
        return cls.model_validate(values)

    def as_text(self) -> str:
        """The box as ``parse`` reads it."""
        return ",".join(f"{value:g}" for value in (self.west, self.south, self.east, self.north))


def parse_instant(text: str) -> datetime:
    """An aware UTC datetime from an ISO 8601 date or date-time.

    A date is its midnight UTC; a date-time without an offset is taken as UTC (the ledger
    records UTC, and so do its listings). Raises :class:`AssetQueryError` otherwise.
    """
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AssetQueryError(
            f"{text!r} is not an ISO 8601 date or date-time (e.g. 2025-03-01 or "
            "2025-03-01T12:00:00Z)"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def check_window(since: datetime | None, until: datetime | None) -> None:
    """Refuse naive instants and an empty window (``since`` is inclusive, ``until`` exclusive)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise AssetQueryError(f"{name} must be timezone aware, not {value.isoformat()}")
    if since is not None and until is not None and since >= until:
        raise AssetQueryError(
            f"since ({since.isoformat()}) must be before until ({until.isoformat()}): since is "
            "inclusive, until exclusive"
        )
