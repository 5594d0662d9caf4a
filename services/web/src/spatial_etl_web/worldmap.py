"""The catalogue's map without tiles: an SVG in longitude/latitude (equirectangular).

The SVG's user space is degrees: ``viewBox="-180 -90 360 180"``, x the longitude and y the
latitude negated (SVG's y grows downwards). A graticule every 30° stands in for a basemap
(the catalogue is offline and ships no coastlines). A WGS84 box becomes one rectangle, or two
when it crosses the antimeridian (``west > east``: ``[west, 180]`` and ``[-180, east]``).
``static/map.js`` uses the same convention to turn a drag into ``W,S,E,N``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

VIEW_BOX: Final = "-180 -90 360 180"
GRATICULE_STEP: Final = 30
MARKER_BELOW_DEG: Final = 1.0
"""A footprint narrower and shorter than this gets a marker too, or it would not be seen."""


class Line(NamedTuple):
    """A graticule line in SVG user space."""

    x1: float
    y1: float
    x2: float
    y2: float


class Piece(NamedTuple):
    """One rectangle of a footprint in SVG user space, with its polygon's points."""

    x: float
    y: float
    width: float
    height: float

    @property
    def points(self) -> str:
        """``points`` of an SVG polygon going round the rectangle."""
        x2, y2 = self.x + self.width, self.y + self.height
        corners = ((self.x, self.y), (x2, self.y), (x2, y2), (self.x, y2))
        return " ".join(f"{_num(x)},{_num(y)}" for x, y in corners)


def graticule() -> list[Line]:
    """Meridians and parallels every :data:`GRATICULE_STEP` degrees, the frame included."""
    lines = [Line(lon, -90, lon, 90) for lon in range(-180, 181, GRATICULE_STEP)]
    lines += [Line(-180, -lat, 180, -lat) for lat in range(-90, 91, GRATICULE_STEP)]
    return lines


def pieces(bbox: Sequence[float] | None) -> list[Piece]:
    """The rectangles of a ``(west, south, east, north)`` box; none when it is unknown."""
    if bbox is None:
        return []
    west, south, east, north = bbox
    spans = [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]
    return [Piece(w, -north, e - w, north - south) for w, e in spans]


def marker(bbox: Sequence[float] | None) -> tuple[float, float] | None:
    """The centre of a box too small to see at world scale (SVG user space), else None."""
    if bbox is None:
        return None
    west, south, east, north = bbox
    width = east - west if west <= east else 360 - west + east
    if width >= MARKER_BELOW_DEG or north - south >= MARKER_BELOW_DEG:
        return None
    centre = west + width / 2
    return (centre - 360 if centre > 180 else centre), -(south + north) / 2


def _num(value: float) -> str:
    return f"{value:.6g}"
