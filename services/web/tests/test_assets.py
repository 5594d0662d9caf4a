"""The asset section: search API and pages, an asset's record, quicklook, ISO record, download.

One lake per module (runs are the slow part): two versions of an elevation model and a
vector boundary made by real runs (S3 on moto's server, GDAL, PostGIS), plus ledger records
made directly for what a run cannot easily produce here: a footprint across the
antimeridian, a pending and a failed version. The browser tests at the end read the same lake.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from loopback_server import serve
from spatial_etl.errors import AssetQueryError
from spatial_etl.models.ledger import AssetDocument, Provenance, new_asset_id
from spatial_etl.settings import WebSettings
from spatial_etl_web.app import create_app
from spatial_etl_web.catalogue import Catalogue
from support import World, make_world, manifest, raster_file, vector_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

HOSTILE = "<script>alert(1)</script> & <b>bold</b>"
MAX = 7  # web_page_size_max of these tests: small, so paging is exercised


@dataclass
class Lake:
    world: World
    client: TestClient
    dem_v1: AssetDocument
    dem_v2: AssetDocument
    parcels: AssetDocument
    fiji: AssetDocument
    pending: AssetDocument
    failed: AssetDocument
    started: datetime


def _raster(tmp: Path, name: str, burn: int, bounds: tuple[float, float, float, float]) -> Path:
    west, south, east, north = bounds
    target = tmp / name
    subprocess.run(
        [
            *("gdal_create", "-of", "GTiff", "-outsize", "64", "48", "-ot", "Byte"),
            *("-burn", str(burn), "-a_ullr", str(west), str(north), str(east), str(south)),
            *("-a_srs", "EPSG:4326", str(target)),
        ],
        check=True,
        capture_output=True,
    )
    return target


def _run(world: World, document: dict[str, Any]) -> AssetDocument:
    report = world.run(document)
    assert report.status == "succeeded", report.error
    found = world.ledger.get_asset(report.outputs[0].asset_id)
    assert found is not None and found.status == "committed"
    return found


def _recorded(world: World, like: AssetDocument, **changes: Any) -> AssetDocument:
    """A ledger record (no lake object) derived from ``like``: a new id, key and content."""
    asset_id = new_asset_id()
    dataset = changes.pop("dataset", like.dataset)
    version = changes.pop("version", 1)
    key = f"{like.intent}/{dataset}/v{version}/{dataset}.tif"
    values = like.model_dump(by_alias=False) | {
        "asset_id": asset_id,
        "dataset": dataset,
        "version": version,
        "s3_key": key,
        "sha256": hashlib.sha256(asset_id.encode()).hexdigest(),
        "status": "pending",
        "committed_at": None,
        "catalogued_at": None,
        "sidecars": [],
    }
    values["iso19115"]["distribution"]["s3_uri"] = f"s3://{like.bucket}/{key}"
    values["iso19115"]["title"] = f"{dataset} v{version}"
    box = changes.pop("bbox_wgs84", like.bbox_wgs84)
    values["bbox_wgs84"] = box
    values["iso19115"]["extent"] = dict(zip(("west", "south", "east", "north"), box, strict=True))
    doc = AssetDocument.model_validate(values | changes)
    world.ledger.insert_pending_asset(doc)
    return doc


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    tmp = tmp_path_factory.mktemp("assets")
    with make_world(os.environ["SPATIAL_ETL_POSTGIS_DSN"], tmp) as world:
        started = datetime.now(UTC) - timedelta(seconds=1)
        alps = (6.0, 45.0, 10.0, 48.0)
        versions = []
        for burn in (7, 9):
            batch = f"dem_{burn}"
            path = world.upload(batch, _raster(tmp, f"dem{burn}.tif", burn, alps))
            document = manifest(batch, "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
            document["metadata"] |= {"dataset": "alps_dem", "description": "Elevation of the Alps"}
            versions.append(_run(world, document))
        geojson = tmp / "parcels_1.geojson"
        ring = [[-74.0, 40.7], [-73.9, 40.7], [-73.9, 40.8], [-74.0, 40.8], [-74.0, 40.7]]
        feature = {
            "type": "Feature",
            "properties": {"name": "<b>lot</b>"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        geojson.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
        path = world.upload("parcels_1", geojson)
        document = manifest(
            "parcels_1", "ingest_vector_boundary", [vector_file(path, "GeoJSON", "EPSG:4326")]
        )
        document["metadata"] |= {"description": HOSTILE, "project": "CADASTRE"}
        parcels = _run(world, document)
        fiji = _recorded(
            world,
            versions[0],
            dataset="fiji_scene",
            bbox_wgs84=(177.0, -19.0, -179.0, -16.0),
            provenance=Provenance(project="PACIFIC", uploader="tests", description="Fiji"),
        )
        fiji = world.ledger.commit_asset(fiji.asset_id, datetime.now(UTC))
        pending = _recorded(world, versions[0], dataset="pending_scene")
        failed = _recorded(world, versions[0], dataset="failed_scene")
        failed = world.ledger.fail_asset(failed.asset_id, "the upload broke")
        catalogue = Catalogue(
            ledger=world.ledger,
            store=world.store,
            intents=world.platform.catalog,
            settings=WebSettings(web_page_size_max=MAX, web_download_ttl_s=60),
        )
        client = TestClient(create_app(catalogue), raise_server_exceptions=False)
        yield Lake(world, client, versions[0], versions[1], parcels, fiji, pending, failed, started)


def _search(lake: Lake, **params: Any) -> list[str]:
    answer = lake.client.get("/api/assets", params=params)
    assert answer.status_code == 200, answer.text
    return [f"{item['dataset']}.v{item['version']}" for item in answer.json()["items"]]


# ----------------------------------------------------------------------------- search API


def test_search_lists_each_datasets_latest_version_newest_first(lake: Lake) -> None:
    assert _search(lake) == ["fiji_scene.v1", "parcels_1.v1", "alps_dem.v2"]
    assert _search(lake, all_versions="true") == [
        "fiji_scene.v1",
        "parcels_1.v1",
        "alps_dem.v2",
        "alps_dem.v1",
    ]


def test_each_result_has_its_quicklook_and_links(lake: Lake) -> None:
    items = {item["dataset"]: item for item in lake.client.get("/api/assets").json()["items"]}
    dem = items["alps_dem"]
    assert dem["asset_id"] == lake.dem_v2.asset_id
    assert dem["links"] == {
        "self": f"/api/assets/{lake.dem_v2.asset_id}",
        "page": f"/assets/{lake.dem_v2.asset_id}",
        "quicklook": f"/api/assets/{lake.dem_v2.asset_id}/quicklook.png",
    }
    assert dem["bbox"] == pytest.approx([6.0, 45.0, 10.0, 48.0])
    assert dem["content"] == "64 x 48 x 1 Byte"
    assert items["parcels_1"]["description"] == HOSTILE  # JSON carries text as written
    assert items["fiji_scene"]["links"]["quicklook"] is None  # its record lists none


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("ALPS", ["alps_dem.v2"]),  # the description, any case
        ("alps_dem", ["alps_dem.v2"]),  # the dataset
        ("parcels_1 (version 1)", ["parcels_1.v1"]),  # the title
        ("<script>", ["parcels_1.v1"]),
        (".*", []),  # literal text, not a pattern
        ("nothing like it", []),
    ],
)
def test_search_by_text(lake: Lake, q: str, expected: list[str]) -> None:
    assert _search(lake, q=q) == expected


def test_search_by_intent_and_project(lake: Lake) -> None:
    assert _search(lake, intent="ingest_vector_boundary") == ["parcels_1.v1"]
    assert _search(lake, project="PACIFIC") == ["fiji_scene.v1"]
    assert _search(lake, project="PACIFIC", q="alps") == []
    assert _search(lake, intent="ingest_raster_mosaic") == []


@pytest.mark.parametrize(
    ("bbox", "expected"),
    [
        ("0,40,20,50", ["alps_dem.v2"]),
        ("-75,40,-73,41", ["parcels_1.v1"]),
        ("-180,-20,-178,-15", ["fiji_scene.v1"]),  # its piece east of the antimeridian
        ("170,-30,-170,0", ["fiji_scene.v1"]),  # a box crossing it
        ("175,40,-175,50", []),
        ("-180,-90,180,90", ["fiji_scene.v1", "parcels_1.v1", "alps_dem.v2"]),
    ],
)
def test_search_by_bbox(lake: Lake, bbox: str, expected: list[str]) -> None:
    assert _search(lake, bbox=bbox) == expected


def test_search_by_commit_date(lake: Lake) -> None:
    fiji_at = lake.fiji.committed_at
    assert fiji_at is not None
    assert _search(lake, since=fiji_at.isoformat()) == ["fiji_scene.v1"]
    assert _search(lake, until=fiji_at.isoformat()) == ["parcels_1.v1", "alps_dem.v2"]
    # the lake as it was before the second elevation model
    assert lake.dem_v2.committed_at is not None
    assert _search(lake, until=lake.dem_v2.committed_at.isoformat(), q="alps") == ["alps_dem.v1"]
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    assert _search(lake, since=tomorrow) == []
    assert len(_search(lake, since=lake.started.date().isoformat())) == 3


def test_search_pages_follow_each_other(lake: Lake) -> None:
    first = lake.client.get("/api/assets", params={"all_versions": "true", "limit": 3}).json()
    assert [i["dataset"] for i in first["items"]] == ["fiji_scene", "parcels_1", "alps_dem"]
    assert first["links"]["previous"] is None
    assert first["links"]["next"] == "/api/assets?all_versions=true&limit=3&offset=3"
    second = lake.client.get(first["links"]["next"]).json()
    assert [(i["dataset"], i["version"]) for i in second["items"]] == [("alps_dem", 1)]
    assert second["links"] == {"next": None, "previous": "/api/assets?all_versions=true&limit=3"}
    assert second["offset"] == 3 and second["limit"] == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": str(MAX + 1)}, f"limit: between 1 and {MAX}, not {MAX + 1}"),
        ({"limit": "0"}, "limit: between 1 and"),
        ({"limit": "ten"}, "limit: a whole number"),
        ({"offset": "-1"}, "offset: a whole number"),
        ({"offset": "10001"}, "offset: between 0 and 10000"),
        ({"bbox": "1,2,3"}, "bbox: a box is four numbers"),
        ({"bbox": "0,50,10,40"}, "bbox: south 50 is north of north 40"),
        ({"bbox": "200,0,10,10"}, "bbox: west 200 is not within -180 and 180"),
        ({"since": "yesterday"}, "since: 'yesterday' is not an ISO 8601 date"),
        ({"since": "2025-03-02", "until": "2025-03-01"}, "until: must be after since"),
        ({"q": "x" * 101}, "q: at most 100 characters, not 101"),
        ({"intent": "Not An Intent"}, "intent: 'Not An Intent' is not an intent name"),
        ({"all_versions": "maybe"}, "all_versions: true or false"),
    ],
)
def test_bad_parameters_are_refused_by_name(
    lake: Lake, params: dict[str, str], message: str
) -> None:
    answer = lake.client.get("/api/assets", params=params)
    assert answer.status_code == 400
    assert answer.json()["code"] == "BadQuery"
    assert message in answer.json()["description"]


def test_a_search_over_its_time_budget_is_refused_readably(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Any] = []

    def costly(**criteria: Any) -> list[AssetDocument]:
        seen.append(criteria["max_time_s"])
        raise AssetQueryError("the search needs more than 5 s: narrow it")

    monkeypatch.setattr(lake.world.ledger, "search_assets", costly)
    answer = lake.client.get("/api/assets", params={"q": "a"})
    assert answer.status_code == 400
    assert answer.json()["description"] == "search: the search needs more than 5 s: narrow it"
    page = lake.client.get("/assets", params={"q": "a"})
    assert page.status_code == 400 and "narrow it" in page.text
    assert seen == [5.0, 5.0]


def test_empty_form_fields_mean_no_criterion(lake: Lake) -> None:
    empty = dict.fromkeys(("q", "intent", "project", "since", "until", "bbox", "limit"), "")
    assert _search(lake, **empty) == _search(lake)


# ----------------------------------------------------------------------------- one asset


def test_the_record_has_every_field_versions_lineage_and_links(lake: Lake) -> None:
    dem = lake.world.ledger.get_asset(lake.dem_v1.asset_id)
    assert dem is not None
    record = lake.client.get(f"/api/assets/{dem.asset_id}").json()
    assert record["asset"] == json.loads(dem.model_dump_json(by_alias=True))
    assert record["committed"] is True
    assert record["latest"] is False and record["latest_version"] == 2
    assert [(v["version"], v["current"]) for v in record["versions"]] == [(2, False), (1, True)]
    assert record["versions"][0]["page"] == f"/assets/{lake.dem_v2.asset_id}"
    lineage = record["lineage"]
    assert [i["sha256"] for i in lineage["inputs"]] == [i.sha256 for i in dem.inputs]
    assert lineage["steps"] == list(dem.iso19115.lineage.steps) and lineage["steps"]
    assert lineage["run"]["run_id"] == dem.run_id and lineage["run"]["status"] == "succeeded"
    assert lineage["batch"] == {  # executed without the intake: no batch document
        "batch_id": "dem_7",
        "status": None,
        "page": "/batches/dem_7",
        "api": "/api/batches/dem_7",
    }
    links = record["links"]
    assert links["stac_item"] == (
        "/stac/collections/ingest_satellite_raster.alps_dem/items/ingest_satellite_raster.alps_dem.v1"
    )
    assert links["stac_item_s3"] == (
        f"s3://{dem.bucket}/stac/ingest_satellite_raster/alps_dem/v1.json"
    )
    assert links["iso19139"] == f"/api/assets/{dem.asset_id}/iso19139.xml"
    assert links["quicklook"] == f"/api/assets/{dem.asset_id}/quicklook.png"
    assert links["download"] == f"/api/assets/{dem.asset_id}/download"
    assert links["data_s3"] == dem.s3_uri
    assert record["duplicates"] == []


def test_an_uncommitted_record_says_so_and_links_nothing_served(lake: Lake) -> None:
    record = lake.client.get(f"/api/assets/{lake.failed.asset_id}").json()
    assert record["committed"] is False
    assert record["asset"]["status"] == "failed"
    assert record["asset"]["failure"] == "the upload broke"
    served = ("quicklook", "iso19139", "stac_item", "download")
    assert {name: record["links"][name] for name in served} == dict.fromkeys(served)


@pytest.mark.parametrize("asset_id", ["0" * 24, "not-an-id", "x" * 300])
@pytest.mark.parametrize("tail", ["", "/quicklook.png", "/iso19139.xml", "/download"])
def test_unknown_assets_are_404_with_a_message(lake: Lake, asset_id: str, tail: str) -> None:
    answer = lake.client.get(f"/api/assets/{asset_id}{tail}", follow_redirects=False)
    assert answer.status_code == 404
    assert answer.json()["code"] == "NotFound"
    assert "unknown asset" in answer.json()["description"]


def test_the_quicklook_is_the_lakes_png(lake: Lake) -> None:
    dem = lake.dem_v2
    record = dem.sidecar("thumbnail")
    assert record is not None
    answer = lake.client.get(f"/api/assets/{dem.asset_id}/quicklook.png")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/png"
    assert answer.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert hashlib.sha256(answer.content).hexdigest() == record.sha256
    assert "max-age" in answer.headers["cache-control"]
    assert answer.headers["etag"] == f'"{record.sha256}"'
    again = lake.client.get(
        f"/api/assets/{dem.asset_id}/quicklook.png",
        headers={"If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""


def test_the_iso_record_is_the_lakes_xml(lake: Lake) -> None:
    parcels = lake.parcels
    record = parcels.sidecar("iso19139")
    assert record is not None
    answer = lake.client.get(f"/api/assets/{parcels.asset_id}/iso19139.xml")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(record.media_type)
    assert "max-age" in answer.headers["cache-control"]
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert hashlib.sha256(answer.content).hexdigest() == record.sha256
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in answer.content  # escaped in the XML


@pytest.mark.parametrize("tail", ["/quicklook.png", "/iso19139.xml"])
def test_sidecars_of_uncommitted_or_sidecarless_versions_are_404(lake: Lake, tail: str) -> None:
    for doc in (lake.pending, lake.failed, lake.fiji):
        answer = lake.client.get(f"/api/assets/{doc.asset_id}{tail}")
        assert answer.status_code == 404, doc.status
    pending = lake.client.get(f"/api/assets/{lake.pending.asset_id}/quicklook.png").json()
    assert pending["code"] == "NotCommitted" and "is pending" in pending["description"]
    fiji = lake.client.get(f"/api/assets/{lake.fiji.asset_id}{tail}").json()
    assert fiji["code"] == "NotFound" and "has no" in fiji["description"]


def test_download_redirects_to_a_presigned_url_of_the_recorded_bytes(lake: Lake) -> None:
    dem = lake.dem_v2
    answer = lake.client.get(f"/api/assets/{dem.asset_id}/download", follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["cache-control"] == "no-store"
    url = answer.headers["location"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"]
    assert parts.path == f"/{dem.bucket}/{dem.s3_key}"
    assert "X-Amz-Expires=60" in parts.query  # web_download_ttl_s
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - moto on loopback
        data = response.read()
    assert len(data) == dem.size
    assert hashlib.sha256(data).hexdigest() == dem.sha256


def test_download_links_name_the_endpoint_users_reach(lake: Lake) -> None:
    internal = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    public = f"http://localhost:{internal.port}"
    settings = WebSettings(web_download_endpoint_url=public)
    catalogue = Catalogue(
        lake.world.ledger, lake.world.store, lake.world.platform.catalog, settings
    )
    client = TestClient(create_app(catalogue))
    dem = lake.dem_v1
    answer = client.get(f"/api/assets/{dem.asset_id}/download", follow_redirects=False)
    assert answer.status_code == 307
    url = answer.headers["location"]
    assert url.startswith(f"{public}/{dem.bucket}/{dem.s3_key}?")
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - moto on loopback
        assert hashlib.sha256(response.read()).hexdigest() == dem.sha256


@pytest.mark.parametrize("which", ["pending", "failed"])
def test_an_uncommitted_version_cannot_be_downloaded(lake: Lake, which: str) -> None:
    doc = getattr(lake, which)
    answer = lake.client.get(f"/api/assets/{doc.asset_id}/download", follow_redirects=False)
    assert answer.status_code == 409
    assert answer.json()["code"] == "NotCommitted"
    assert f"is {which}" in answer.json()["description"]
    assert "location" not in answer.headers


def test_a_committed_version_missing_from_the_lake_is_not_redirected(lake: Lake) -> None:
    answer = lake.client.get(f"/api/assets/{lake.fiji.asset_id}/download", follow_redirects=False)
    assert answer.status_code == 404
    assert answer.json()["code"] == "MissingObject"


def test_nothing_but_get_is_routed(lake: Lake) -> None:
    for method in ("post", "put", "delete", "patch"):
        answer = getattr(lake.client, method)(f"/api/assets/{lake.dem_v2.asset_id}")
        assert answer.status_code == 405, method


# ----------------------------------------------------------------------------- pages


def test_the_search_page_lists_cards_and_escapes_user_text(lake: Lake) -> None:
    answer = lake.client.get("/assets")
    assert answer.status_code == 200
    html = answer.text
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    assert f'src="/api/assets/{lake.dem_v2.asset_id}/quicklook.png"' in html
    assert html.count('class="card asset-card"') == 3
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    intents = re.findall(r'<option value="([a-z_]+)"', html)
    assert "ingest_satellite_raster" in intents and "ingest_vector_boundary" in intents


def test_the_search_page_keeps_the_query_and_pages(lake: Lake) -> None:
    html = lake.client.get("/assets", params={"all_versions": "true", "limit": 2}).text
    assert 'href="/assets?all_versions=true&amp;limit=2&amp;offset=2"' in html
    page = lake.client.get("/assets", params={"q": '"><img src=x>', "bbox": "170,-30,-170,0"})
    assert page.status_code == 200
    assert 'value="&#34;&gt;&lt;img src=x&gt;"' in page.text
    assert "No committed asset matches." in page.text
    # the typed box is drawn across the antimeridian: two rectangles
    selection = page.text.split('<g class="selection">')[1].split("</g>")[0]
    assert selection.count("<rect") == 2


def test_the_search_page_explains_a_bad_parameter(lake: Lake) -> None:
    answer = lake.client.get("/assets", params={"bbox": "1,2,3", "q": "alps"})
    assert answer.status_code == 400
    assert "Cannot search: bbox: a box is four numbers" in answer.text
    assert 'value="alps"' in answer.text  # the form keeps what was typed


def test_the_asset_page_shows_everything(lake: Lake) -> None:
    parcels = lake.parcels
    answer = lake.client.get(f"/assets/{parcels.asset_id}")
    assert answer.status_code == 200
    html = answer.text
    assert "<script>alert" not in html and "<b>lot" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for fact in (parcels.sha256, parcels.crs, "CADASTRE", "GeoParquet", parcels.inputs[0].sha256):
        assert fact in html
    assert 'href="/batches/parcels_1"' in html
    assert f'href="/api/assets/{parcels.asset_id}/download"' in html
    assert f'href="/api/assets/{parcels.asset_id}/iso19139.xml"' in html
    assert 'href="/stac/collections/ingest_vector_boundary.parcels_1/items/' in html
    assert all(column.name in html for column in parcels.columns)
    assert '<polygon class="footprint"' in html


def test_the_asset_page_of_a_raster_lists_bands_and_versions(lake: Lake) -> None:
    html = lake.client.get(f"/assets/{lake.dem_v1.asset_id}").text
    assert '<table id="bands">' in html and "64 x 48 pixels, 1 band, Byte" in html
    assert f'href="/assets/{lake.dem_v2.asset_id}">v2</a>' in html
    assert "A newer version exists: v2." in html


def test_an_antimeridian_footprint_is_two_polygons(lake: Lake) -> None:
    html = lake.client.get(f"/assets/{lake.fiji.asset_id}").text
    footprints = html.split('<g class="footprints">')[1].split('<g class="selection">')[0]
    assert footprints.count('<polygon class="footprint"') == 2
    assert 'points="177,16 180,16 180,19 177,19"' in footprints
    assert 'points="-180,16 -179,16 -179,19 -180,19"' in footprints


def test_pages_of_unknown_or_uncommitted_assets(lake: Lake) -> None:
    missing = lake.client.get("/assets/" + "0" * 24)
    assert missing.status_code == 404
    assert "Asset not found" in missing.text and "unknown asset" in missing.text
    failed = lake.client.get(f"/assets/{lake.failed.asset_id}")
    assert failed.status_code == 200
    assert "This version is failed" in failed.text and "the upload broke" in failed.text
    assert "/download" not in failed.text


def test_pages_reference_nothing_outside_the_app(lake: Lake) -> None:
    for path in ("/assets", f"/assets/{lake.parcels.asset_id}", "/static/map.js"):
        text = lake.client.get(path).text
        outside = re.findall(r"https?://[a-z0-9.-]+", text, flags=re.IGNORECASE)
        outside += re.findall(r'(?:src|href|action)="(//[^"]*)"', text)
        own = {"http://testserver", "http://www.w3.org"}  # the app; the SVG namespace in JS
        assert [url for url in outside if url not in own] == [], path


# ----------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def served(lake: Lake) -> Iterator[str]:
    with serve(lake.client.app) as url:
        yield url


def _cards(page: Any) -> list[str]:
    titles: list[str] = page.locator(".asset-card h2 a").all_inner_texts()
    return titles


@pytest.mark.browser
def test_browser_search_by_text_and_by_typed_box(page: Any, served: str) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{served}/assets")
    assert _cards(page) == ["fiji_scene", "parcels_1", "alps_dem"]
    page.fill("#q", "alps")
    page.click("#search")
    page.wait_for_url(re.compile(r"q=alps"))
    assert _cards(page) == ["alps_dem"]
    quicklook = page.locator(".asset-card img").first
    quicklook.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('.asset-card img').complete")
    assert quicklook.evaluate("img => img.naturalWidth") > 0
    page.fill("#q", "")
    page.fill("#bbox", "170,-30,-170,0")
    assert page.locator("#search-map g.selection rect").count() == 2  # drawn while typing
    page.click("#search")
    page.wait_for_url(re.compile(r"bbox="))
    assert _cards(page) == ["fiji_scene"]
    assert [url for url in requested if not url.startswith(served)] == []


@pytest.mark.browser
def test_browser_search_by_a_box_dragged_on_the_map(page: Any, served: str) -> None:
    page.goto(f"{served}/assets")
    svg = page.locator("#search-map")
    box = svg.bounding_box()
    assert box is not None

    def at(lon: float, lat: float) -> tuple[float, float]:  # the map is 360 x 180 degrees
        return box["x"] + (lon + 180) / 360 * box["width"], box["y"] + (90 - lat) / 180 * box[
            "height"
        ]

    page.mouse.move(*at(-80, 30))
    page.mouse.down()
    page.mouse.move(*at(-75, 35), steps=3)
    page.mouse.move(*at(-70, 45), steps=3)
    page.mouse.up()
    typed = page.input_value("#bbox")
    west, south, east, north = (float(value) for value in typed.split(","))
    assert west == pytest.approx(-80, abs=1) and east == pytest.approx(-70, abs=1)
    assert south == pytest.approx(30, abs=1) and north == pytest.approx(45, abs=1)
    assert page.locator("#search-map g.selection rect").count() == 1
    page.click("#search")
    page.wait_for_url(re.compile(r"bbox="))
    assert _cards(page) == ["parcels_1"]


@pytest.mark.browser
def test_browser_opens_an_asset_with_quicklook_footprint_and_hostile_text(
    page: Any, served: str, lake: Lake
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/assets")
    page.locator(".asset-card h2 a", has_text="parcels_1").click()
    page.wait_for_url(f"{served}/assets/{lake.parcels.asset_id}")
    assert page.inner_text("#asset-description") == HOSTILE  # the literal text, visible
    assert page.locator("#main script").count() == 0
    quicklook = page.locator("#quicklook")
    page.wait_for_function("() => document.querySelector('#quicklook').complete")
    assert quicklook.evaluate("img => img.naturalWidth") > 0
    footprint = page.locator("#footprint-map polygon.footprint")
    assert footprint.count() == 1
    assert footprint.first.bounding_box()["width"] > 0
    assert page.get_attribute("#batch-link", "href") == "/batches/parcels_1"
    assert dialogs == []
