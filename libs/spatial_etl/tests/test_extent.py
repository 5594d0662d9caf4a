"""WGS84 extents the ledger can store: floating-point noise clamped, the antimeridian kept."""

from __future__ import annotations

import pytest
from spatial_etl.models.extent import normalize_wgs84_bbox
from spatial_etl.models.ledger import GeographicExtent


def test_a_hair_outside_the_range_is_clamped() -> None:
    # Natural Earth's world boundaries measured east = 180.00000000000006 after reprojection
    bbox = normalize_wgs84_bbox((-180.00000000000003, -90.0000000000001, 180.00000000000006, 83.6))
    assert bbox == (-180.0, -90.0, 180.0, 83.6)
    GeographicExtent(west=bbox[0], south=bbox[1], east=bbox[2], north=bbox[3])


def test_an_antimeridian_crossing_extent_keeps_west_greater_than_east() -> None:
    assert normalize_wgs84_bbox((170.0, -20.0, -170.0, -10.0)) == (170.0, -20.0, -170.0, -10.0)


def test_longitudes_past_180_wrap_into_an_antimeridian_crossing() -> None:
    west, south, east, north = normalize_wgs84_bbox((170.0, -20.0, 190.0, -10.0)) or (0, 0, 0, 0)
    assert (west, south, north) == (170.0, -20.0, -10.0)
    assert east == pytest.approx(-170.0)


def test_a_whole_world_or_wider_extent_covers_every_longitude() -> None:
    assert normalize_wgs84_bbox((-190.0, -95.0, 190.0, 95.0)) == (-180.0, -90.0, 180.0, 90.0)


def test_non_finite_values_give_no_extent() -> None:
    assert normalize_wgs84_bbox((0.0, 0.0, float("nan"), 1.0)) is None
    assert normalize_wgs84_bbox(None) is None
