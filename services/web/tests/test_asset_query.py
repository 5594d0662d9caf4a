"""The asset search's parameters and the map's geometry, without any service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from spatial_etl_web import worldmap
from spatial_etl_web.asset_query import AssetQuery, QueryParameterError


def test_a_form_submission_becomes_criteria_and_links_back() -> None:
    query = AssetQuery.parse(
        {
            "q": "  alps ",
            "intent": "ingest_satellite_raster",
            "project": "",
            "since": "2025-03-01",
            "until": "2025-03-02T12:00:00+01:00",
            "bbox": "170,-20,-170,-10",
            "all_versions": "on",
            "limit": "5",
            "offset": "10",
            "unrelated": "ignored",
        },
        page_size_max=10,
    )
    assert query.text == "alps"
    assert query.project is None  # an empty field is no criterion
    assert query.since == datetime(2025, 3, 1, tzinfo=UTC)
    assert query.until == datetime(2025, 3, 2, 11, tzinfo=UTC)
    assert query.bbox is not None and query.bbox.crosses_antimeridian
    assert query.all_versions is True
    assert (query.offset, query.limit) == (10, 5)
    assert query.query_string() == (
        "q=alps&intent=ingest_satellite_raster&since=2025-03-01&until=2025-03-02T12%3A00%3A00"
        "%2B01%3A00&bbox=170%2C-20%2C-170%2C-10&all_versions=on&limit=5&offset=10"
    )
    assert query.page(0).query_string().endswith("limit=5")
    assert query.value("q") == "alps" and query.value("project") == ""


def test_defaults_follow_the_page_size_limit() -> None:
    assert AssetQuery.parse({}, page_size_max=100).limit == 20
    assert AssetQuery.parse({}, page_size_max=3).limit == 3
    with pytest.raises(QueryParameterError, match="limit: between 1 and 3, not 4") as caught:
        AssetQuery.parse({"limit": "4"}, page_size_max=3)
    assert caught.value.param == "limit"


def test_a_long_value_is_cut_before_it_is_echoed() -> None:
    with pytest.raises(QueryParameterError) as caught:
        AssetQuery.parse({"since": "9" * 10_000}, page_size_max=10)
    assert caught.value.param == "since"
    assert len(str(caught.value)) < 200


def test_a_box_is_one_rectangle_or_two_across_the_antimeridian() -> None:
    assert worldmap.pieces(None) == []
    assert worldmap.pieces((5.0, 45.0, 10.0, 48.0)) == [worldmap.Piece(5.0, -48.0, 5.0, 3.0)]
    west, east = worldmap.pieces((170.0, -20.0, -170.0, -10.0))
    assert west == worldmap.Piece(170.0, 10.0, 10.0, 10.0)
    assert east == worldmap.Piece(-180.0, 10.0, 10.0, 10.0)
    assert west.points == "170,10 180,10 180,20 170,20"


def test_a_tiny_footprint_gets_a_marker_at_its_centre() -> None:
    assert worldmap.marker((5.0, 45.0, 10.0, 48.0)) is None
    assert worldmap.marker((10.0, 50.0, 10.5, 50.5)) == (10.25, -50.25)
    assert worldmap.marker((179.8, 0.0, -179.9, 0.2)) == pytest.approx((179.95, -0.1))
    assert worldmap.marker((179.9, 0.0, -179.7, 0.2)) == pytest.approx((-179.9, -0.1))


def test_the_graticule_is_every_30_degrees_with_the_frame() -> None:
    lines = worldmap.graticule()
    meridians = sorted({line.x1 for line in lines if line.x1 == line.x2})
    parallels = sorted({line.y1 for line in lines if line.y1 == line.y2})
    assert meridians == list(range(-180, 181, 30))
    assert parallels == list(range(-90, 91, 30))
