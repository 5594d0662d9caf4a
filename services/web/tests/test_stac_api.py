"""The STAC API over a lake of three committed versions in two datasets, far apart.

One module-scoped platform (real S3, PostGIS, GDAL; mongomock ledger): ``north`` v1 and v2
near Berlin, then a recorded instant, then ``south`` in South America. Every document the
API returns is checked with the same validator as the lake's STAC files; pystac-client browses
a real server.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loopback_server import serve
from spatial_etl.metadata.stac import validate
from spatial_etl.models.ledger import AssetDocument
from spatial_etl.settings import WebSettings
from spatial_etl_web.app import create_app
from spatial_etl_web.catalogue import Catalogue
from support import World, make_world, manifest, raster_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

NORTH = "ingest_satellite_raster.north"
SOUTH = "ingest_satellite_raster.south"
NORTH_BOX = (13.0, 52.0, 13.64, 52.48)
SOUTH_BOX = (-60.0, -30.0, -59.36, -29.52)


@dataclass
class Lake:
    world: World
    client: TestClient
    catalogue: Catalogue
    north: list[AssetDocument]
    south: AssetDocument
    between: datetime


def _raster(folder: Path, name: str, burn: int, bounds: tuple[float, ...]) -> Path:
    target = folder / name
    west, south, east, north = bounds
    subprocess.run(
        ["gdal_create", "-of", "GTiff", "-outsize", "64", "48", "-bands", "1", "-ot", "Byte",
         "-a_ullr", str(west), str(north), str(east), str(south), "-burn", str(burn),
         "-a_srs", "EPSG:4326", str(target)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


def _publish(world: World, folder: Path, batch: str, dataset: str, *, burn: int, box: Any) -> str:
    path = world.upload(batch, _raster(folder, f"{batch}.tif", burn, box))
    document = manifest(batch, "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    document["metadata"]["dataset"] = dataset
    report = world.run(document)
    assert report.status == "succeeded", report.error
    return report.outputs[0].asset_id


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lake]:
    folder = tmp_path_factory.mktemp("stac")
    with make_world(os.environ["SPATIAL_ETL_POSTGIS_DSN"], folder) as world:
        first = _publish(world, folder, "north_1", "north", burn=7, box=NORTH_BOX)
        second = _publish(world, folder, "north_2", "north", burn=8, box=NORTH_BOX)
        time.sleep(0.05)
        between = datetime.now(UTC)
        time.sleep(0.05)
        third = _publish(world, folder, "south_1", "south", burn=9, box=SOUTH_BOX)
        catalogue = Catalogue(
            ledger=world.ledger,
            store=world.store,
            intents=world.platform.catalog,
            settings=WebSettings(web_page_size_max=2),
        )
        docs = [world.ledger.get_asset(asset_id) for asset_id in (first, second, third)]
        assert all(doc is not None for doc in docs)
        north = [doc for doc in docs[:2] if doc is not None]
        assert docs[2] is not None
        client = TestClient(create_app(catalogue), raise_server_exceptions=False)
        yield Lake(world, client, catalogue, north, docs[2], between)


def _ids(page: dict[str, Any]) -> list[str]:
    return [feature["id"] for feature in page["features"]]


def _rel(document: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [entry for entry in document["links"] if entry["rel"] == rel]


def test_landing_page_links_everything_and_validates(lake: Lake) -> None:
    answer = lake.client.get("/stac")
    assert answer.status_code == 200
    page = answer.json()
    validate(page)
    assert page["type"] == "Catalog"
    assert "https://api.stacspec.org/v1.0.0/item-search" in page["conformsTo"]
    base = "http://testserver/stac"
    assert _rel(page, "self")[0]["href"] == base
    assert _rel(page, "conformance")[0]["href"] == f"{base}/conformance"
    assert _rel(page, "data")[0]["href"] == f"{base}/collections"
    assert {entry["method"] for entry in _rel(page, "search")} == {"GET", "POST"}
    assert _rel(page, "service-desc")[0]["href"] == "http://testserver/api/openapi.json"
    assert [entry["href"] for entry in _rel(page, "child")] == [
        f"{base}/collections/{NORTH}",
        f"{base}/collections/{SOUTH}",
    ]
    conformance = lake.client.get("/stac/conformance").json()
    assert conformance["conformsTo"] == page["conformsTo"]


def test_collections_page_with_a_next_link(lake: Lake) -> None:
    first = lake.client.get("/stac/collections", params={"limit": 1}).json()
    assert [c["id"] for c in first["collections"]] == [NORTH]
    for collection in first["collections"]:
        validate(collection)
    [following] = _rel(first, "next")
    second = lake.client.get(following["href"]).json()
    assert [c["id"] for c in second["collections"]] == [SOUTH]
    assert _rel(second, "next") == []
    refused = lake.client.get("/stac/collections", params={"token": "bm90LWFuLWlk"})
    assert refused.status_code == 400
    assert refused.json()["description"].startswith("token: ")


def test_a_collection_covers_its_versions_and_points_at_its_items(lake: Lake) -> None:
    document = lake.client.get(f"/stac/collections/{NORTH}").json()
    validate(document)
    assert document["spatial_etl:latest_version"] == 2
    [west, south, east, north] = document["extent"]["spatial"]["bbox"][0]
    assert (west, south, east, north) == pytest.approx(NORTH_BOX, abs=1e-6)
    base = f"http://testserver/stac/collections/{NORTH}"
    assert _rel(document, "items")[0]["href"] == f"{base}/items"
    assert _rel(document, "latest-version")[0]["href"] == f"{base}/items/{NORTH}.v2"
    assert all(link["href"].startswith("http://testserver/") for link in document["links"])


def test_an_item_links_to_the_api_and_the_assets_helper(lake: Lake) -> None:
    asset = lake.north[0]
    answer = lake.client.get(f"/stac/collections/{NORTH}/items/{NORTH}.v1")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/geo+json"
    item = answer.json()
    validate(item)
    assert item["properties"]["spatial_etl:asset_id"] == asset.asset_id
    api = f"http://testserver/api/assets/{asset.asset_id}"
    assert item["assets"]["data"]["href"] == f"{api}/download"
    assert item["assets"]["iso19139"]["href"] == f"{api}/iso19139.xml"
    assert item["assets"]["thumbnail"]["href"] == f"{api}/quicklook.png"
    assert item["assets"]["data"]["file:checksum"] == "1220" + asset.sha256
    assert _rel(item, "self")[0]["href"] == (
        f"http://testserver/stac/collections/{NORTH}/items/{NORTH}.v1"
    )
    assert _rel(item, "collection")[0]["href"] == f"http://testserver/stac/collections/{NORTH}"
    [source] = _rel(item, "derived_from")
    assert source["href"].endswith("/north_1/north_1.tif")


def test_the_public_url_setting_makes_every_href(lake: Lake) -> None:
    settings = WebSettings(web_public_url="https://catalogue.example.org/")
    catalogue = Catalogue(
        lake.world.ledger, lake.world.store, lake.world.platform.catalog, settings
    )
    client = TestClient(create_app(catalogue))
    item = client.get(f"/stac/collections/{SOUTH}/items/{SOUTH}.v1").json()
    hrefs = [link["href"] for link in item["links"] if link["rel"] != "derived_from"]
    hrefs += [asset["href"] for asset in item["assets"].values()]
    page = client.get("/stac/search", params={"limit": 1}).json()
    hrefs += [link["href"] for link in page["links"]]
    assert {link["rel"] for link in page["links"]} == {"self", "root", "next"}
    assert all(href.startswith("https://catalogue.example.org/") for href in hrefs), hrefs


def test_collection_items_filter_and_page(lake: Lake) -> None:
    url = f"/stac/collections/{NORTH}/items"
    first = lake.client.get(url, params={"limit": 1}).json()
    assert _ids(first) == [f"{NORTH}.v1"]
    for feature in first["features"]:
        validate(feature)
    [following] = _rel(first, "next")
    second = lake.client.get(following["href"]).json()
    assert _ids(second) == [f"{NORTH}.v2"]
    assert _rel(second, "next") == []
    far = lake.client.get(url, params={"bbox": "-10,-10,-5,-5"}).json()
    assert _ids(far) == []


def test_search_by_bbox_datetime_collections_and_ids(lake: Lake) -> None:
    def search(**params: Any) -> list[str]:
        answer = lake.client.get("/stac/search", params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert page["type"] == "FeatureCollection"
        for feature in page["features"]:
            validate(feature)
        return _ids(page)

    both = [f"{NORTH}.v1", f"{NORTH}.v2"]
    assert search(bbox="12,51,14,53") == both
    assert search(bbox="-61,-31,-59,-29") == [f"{SOUTH}.v1"]
    assert search(bbox="170,-10,-170,10") == []  # across the antimeridian, nothing there
    moment = lake.between.isoformat().replace("+00:00", "Z")
    assert search(datetime=f"../{moment}") == both
    assert search(datetime=f"{moment}/..") == [f"{SOUTH}.v1"]
    assert search(datetime=f"{moment}/") == [f"{SOUTH}.v1"]
    assert search(datetime="2001-01-01T00:00:00Z") == []
    assert search(collections=SOUTH) == [f"{SOUTH}.v1"]
    assert search(collections="nothing.here") == []
    assert search(ids=f"{NORTH}.v2,{SOUTH}.v1") == [f"{NORTH}.v2", f"{SOUTH}.v1"]
    assert search(limit=500) == both  # clamped to web_page_size_max (2): a next link follows


def test_post_search_pages_with_the_body(lake: Lake) -> None:
    first = lake.client.post("/stac/search", json={"limit": 2, "bbox": [-180, -90, 180, 90]})
    assert first.status_code == 200
    assert _ids(first.json()) == [f"{NORTH}.v1", f"{NORTH}.v2"]
    [following] = _rel(first.json(), "next")
    assert following["method"] == "POST"
    second = lake.client.post("/stac/search", json=following["body"])
    assert _ids(second.json()) == [f"{SOUTH}.v1"]
    assert _rel(second.json(), "next") == []


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"bbox": "1,2,3"}, "bbox"),
        ({"bbox": "10,60,20,50"}, "bbox"),
        ({"bbox": "a,b,c,d"}, "bbox"),
        ({"datetime": "yesterday"}, "datetime"),
        ({"datetime": "2026-02-01T00:00:00Z/2026-01-01T00:00:00Z"}, "datetime"),
        ({"datetime": "../.."}, "datetime"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"token": "!!not-a-token"}, "token"),
    ],
)
def test_bad_parameters_are_400_naming_them(lake: Lake, params: dict[str, str], named: str) -> None:
    answer = lake.client.get("/stac/search", params=params)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "InvalidParameterValue"
    assert body["description"].startswith(f"{named}: ")


def test_bad_post_bodies_are_400(lake: Lake) -> None:
    for body in ({"bbox": [1, 2]}, {"intersects": {"type": "Point", "coordinates": [0, 0]}}):
        answer = lake.client.post("/stac/search", json=body)
        assert answer.status_code == 400, body
        assert set(answer.json()) == {"code", "description"}


def test_unknown_ids_are_404(lake: Lake) -> None:
    for url in (
        "/stac/collections/ingest_satellite_raster.nowhere",
        "/stac/collections/no-dot",
        "/stac/collections/ingest_satellite_raster.nowhere/items",
        f"/stac/collections/{NORTH}/items/{NORTH}.v9",
        f"/stac/collections/{NORTH}/items/{SOUTH}.v1",
    ):
        answer = lake.client.get(url)
        assert answer.status_code == 404, url
        assert answer.json()["code"] == "NotFound"


def test_pystac_client_searches_pages_and_reads(lake: Lake) -> None:
    from pystac_client import Client

    with serve(create_app(lake.catalogue)) as url:
        client = Client.open(f"{url}/stac")
        assert {c.id for c in client.get_collections()} == {NORTH, SOUTH}
        everything = client.search(limit=1, max_items=10)
        assert [item.id for item in everything.items()] == [
            f"{NORTH}.v1",
            f"{NORTH}.v2",
            f"{SOUTH}.v1",
        ]
        by_get = client.search(method="GET", limit=1, max_items=10, bbox=[-180, -90, 180, 90])
        assert len(list(by_get.items())) == 3
        moment = lake.between
        north = client.search(bbox=[12, 51, 14, 53], datetime=[None, moment], limit=1)
        assert [item.id for item in north.items()] == [f"{NORTH}.v1", f"{NORTH}.v2"]
        later = client.search(
            collections=[NORTH, SOUTH], bbox=[-180, -90, 180, 90], datetime=[moment, None]
        )
        assert [item.id for item in later.items()] == [f"{SOUTH}.v1"]
        collection = client.get_collection(NORTH)
        assert collection is not None
        assert collection.extra_fields["spatial_etl:latest_version"] == 2
        item = collection.get_item(f"{NORTH}.v2")
        assert item is not None
        assert item.assets["data"].href.endswith(f"/api/assets/{lake.north[1].asset_id}/download")
