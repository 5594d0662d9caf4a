"""The lake's metadata: sidecars per version, STAC Collections and Catalog, kept true.

Real S3 (moto's server), PostGIS and the GDAL CLI; the ledger on mongomock. Each committed
version has an ISO 19139 record and a STAC Item beside it, listed in its ledger document;
each dataset a Collection, the lake a Catalog, rewritten on every commit and caught up by
the reconciler when a run could not.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pystac
import pytest
from invariants import assert_lake_matches_ledger
from spatial_etl.backends.storage import ObjectStore, StoredObject
from spatial_etl.errors import StorageUnavailableError
from spatial_etl.metadata import layout
from spatial_etl.metadata.iso import read_iso
from spatial_etl.metadata.stac import multihash, validate
from spatial_etl.models.ledger import AssetDocument
from spatial_etl.run import catalogue
from spatial_etl.run.reconcile import reconcile
from support import World, manifest, raster_file, vector_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

SQUARE = "POLYGON((500000 5500000, 500900 5500000, 500900 5500900, 500000 5500900, 500000 5500000))"


def _json(world: World, key: str) -> dict[str, Any]:
    data, _ = world.store.get_bytes(world.store.settings.lake_bucket, key)
    document: dict[str, Any] = json.loads(data)
    return document


def _target(from_key: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(from_key), href))


def _publish_vector(world: World, make_vector: Callable[..., Path], batch: str) -> AssetDocument:
    gpkg = make_vector(f"{batch}.gpkg", [{"wkt": SQUARE, "name": "<b>north</b>"}], crs="EPSG:32633")
    path = world.upload(batch, gpkg)
    document = manifest(batch, "ingest_vector_boundary", [vector_file(path, "GPKG")])
    document["metadata"]["description"] = "Parcels & <districts>"
    report = world.run(document)
    assert report.status == "succeeded", report.error
    doc = world.ledger.get_asset(report.outputs[0].asset_id)
    assert doc is not None
    return doc


def _publish_raster(
    world: World, make_raster: Callable[..., Path], batch: str, burn: float, dataset: str
) -> AssetDocument:
    path = world.upload(batch, make_raster(f"{dataset}.tif", burn=(burn,)))
    document = manifest(batch, "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    document["metadata"]["dataset"] = dataset
    report = world.run(document)
    assert report.status == "succeeded", report.error
    doc = world.ledger.get_asset(report.outputs[0].asset_id)
    assert doc is not None
    return doc


def test_a_committed_version_has_its_iso_record_and_stac_item_beside_it(
    world: World, make_vector: Callable[..., Path]
) -> None:
    doc = _publish_vector(world, make_vector, "parcels_1")
    assert doc.provenance.project == "TESTS"
    assert doc.provenance.description == "Parcels & <districts>"
    assert doc.iso19115.abstract == "Parcels & <districts>"
    assert doc.catalogued_at is not None
    iso, item_record = doc.sidecar("iso19139"), doc.sidecar("stac_item")
    assert iso is not None and item_record is not None
    assert iso.key == "ingest_vector_boundary/parcels_1/v1/parcels_1.iso19139.xml"
    assert item_record.key == "stac/ingest_vector_boundary/parcels_1/v1.json"

    lake = world.store.settings.lake_bucket
    xml, stored = world.store.get_bytes(lake, iso.key)
    assert stored.sha256 == iso.sha256
    summary = read_iso(xml)
    assert summary.identifier == doc.asset_id
    assert summary.title == "parcels_1 (version 1)"
    assert summary.reference_system == "urn:ogc:def:crs:EPSG::4326"
    assert summary.urls == (doc.s3_uri,)
    assert doc.inputs[0].sha256 in summary.lineage
    assert summary.bbox is not None and doc.bbox_wgs84 is not None
    assert summary.bbox == pytest.approx(doc.bbox_wgs84)

    item = _json(world, item_record.key)
    validate(item)
    assert item["properties"]["spatial_etl:asset_id"] == doc.asset_id
    assert item["properties"]["description"] == "Parcels & <districts>"
    data = item["assets"]["data"]
    assert _target(item_record.key, data["href"]) == doc.s3_key
    assert data["file:checksum"] == multihash(doc.sha256)
    assert _target(item_record.key, item["assets"]["iso19139"]["href"]) == iso.key
    thumbnail = doc.sidecar("thumbnail")
    assert thumbnail is not None
    assert thumbnail.key == "ingest_vector_boundary/parcels_1/v1/parcels_1.png"
    assert _target(item_record.key, item["assets"]["thumbnail"]["href"]) == thumbnail.key
    assert item["assets"]["thumbnail"]["roles"] == ["thumbnail"]
    png, _ = world.store.get_bytes(lake, thumbnail.key)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert max(width, height) == 512  # a square parcel, drawn at the largest size
    assert [c["name"] for c in item["properties"]["table:columns"]] == [c.name for c in doc.columns]
    derived = [link["href"] for link in item["links"] if link["rel"] == "derived_from"]
    assert derived == [doc.inputs[0].path]
    for link in item["links"]:
        if link["rel"] in {"root", "parent", "collection"}:
            assert world.store.head(lake, _target(item_record.key, link["href"])) is not None
    assert_lake_matches_ledger(world.store, world.ledger)


def test_pystac_reads_the_whole_catalogue_back_from_a_copy_of_the_lake(
    world: World,
    make_vector: Callable[..., Path],
    make_raster: Callable[..., Path],
    tmp_path: Path,
) -> None:
    vector = _publish_vector(world, make_vector, "parcels_2")
    raster = _publish_raster(world, make_raster, "scene_2", 7, "scene")
    copy = tmp_path / "lake"
    for key in world.lake_keys():
        world.store.download(world.store.settings.lake_bucket, key, copy / key)
    root = pystac.Catalog.from_file(str(copy / layout.CATALOG_KEY))
    items = {
        item.properties["spatial_etl:asset_id"]: item for item in root.get_items(recursive=True)
    }
    assert set(items) == {vector.asset_id, raster.asset_id}
    for doc in (vector, raster):
        href = items[doc.asset_id].assets["data"].get_absolute_href()
        assert href == str(copy / doc.s3_key)
        assert Path(href).stat().st_size == doc.size
    raster_item = items[raster.asset_id]
    assert raster_item.properties["proj:shape"] == [48, 64]
    assert raster_item.assets["data"].extra_fields["raster:bands"][0]["data_type"] == "uint8"


def test_superseding_a_version_updates_the_collection_and_the_catalog(
    world: World, make_raster: Callable[..., Path]
) -> None:
    first = _publish_raster(world, make_raster, "scene_a", 7, "scene")
    catalog_before = _json(world, layout.CATALOG_KEY)
    second = _publish_raster(world, make_raster, "scene_b", 9, "scene")
    assert (first.version, second.version) == (1, 2)
    key = layout.collection_key(second.intent, "scene")
    collection = _json(world, key)
    validate(collection)
    links = collection["links"]
    items = [_target(key, link["href"]) for link in links if link["rel"] == "item"]
    assert items == [
        "stac/ingest_satellite_raster/scene/v1.json",
        "stac/ingest_satellite_raster/scene/v2.json",
    ]
    [latest] = [_target(key, link["href"]) for link in links if link["rel"] == "latest-version"]
    assert latest == "stac/ingest_satellite_raster/scene/v2.json"
    assert collection["spatial_etl:latest_version"] == 2
    catalog = _json(world, layout.CATALOG_KEY)
    assert [link for link in catalog["links"] if link["rel"] == "child"] == [
        link for link in catalog_before["links"] if link["rel"] == "child"
    ]
    assert all(doc.catalogued_at for doc in world.ledger.list_assets(latest_only=False))
    assert_lake_matches_ledger(world.store, world.ledger)


def test_a_commit_racing_the_rewrite_is_not_lost(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another run commits between this writer's read and write: the writer notices and
    rewrites, so the Catalog ends listing both datasets."""
    first = _publish_raster(world, make_raster, "race_a", 7, "alpha")
    other_key = layout.collection_key(first.intent, "beta")
    writes: list[str] = []
    put = world.store.put_bytes

    def racing_put(
        self: ObjectStore, bucket: str, key: str, data: bytes, **kw: Any
    ) -> StoredObject:
        writes.append(key)
        if key == layout.CATALOG_KEY and writes.count(key) == 1:
            monkeypatch.setattr(ObjectStore, "put_bytes", put_unpatched)
            _publish_raster(world, make_raster, "race_b", 9, "beta")  # commits and rewrites
            monkeypatch.setattr(ObjectStore, "put_bytes", racing_put)
        return put(bucket, key, data, **kw)  # the stale catalogue lands last

    def put_unpatched(self: ObjectStore, *args: Any, **kw: Any) -> StoredObject:
        return put(*args, **kw)

    monkeypatch.setattr(ObjectStore, "put_bytes", racing_put)
    # The stale writer: it read the ledger (alpha only) before beta's commit, wrote after it.
    catalogue.refresh(world.store, world.ledger, first.intent, "alpha")
    assert writes.count(layout.CATALOG_KEY) == 2  # wrote once stale, then again
    children = [
        _target(layout.CATALOG_KEY, link["href"])
        for link in _json(world, layout.CATALOG_KEY)["links"]
        if link["rel"] == "child"
    ]
    assert other_key in children
    assert_lake_matches_ledger(world.store, world.ledger)


def test_a_catalogue_left_stale_after_a_commit_is_caught_up_by_the_reconciler(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    put = ObjectStore.put_bytes

    def no_catalog(self: ObjectStore, bucket: str, key: str, *args: Any, **kw: Any) -> Any:
        if key == layout.CATALOG_KEY:
            raise StorageUnavailableError("injected: the lake refuses the catalogue", code=None)
        return put(self, bucket, key, *args, **kw)

    monkeypatch.setattr(ObjectStore, "put_bytes", no_catalog)
    doc = _publish_raster(world, make_raster, "stale_1", 7, "stale")
    assert doc.status == "committed"  # the commit stands
    assert doc.catalogued_at is None
    lake = world.store.settings.lake_bucket
    assert world.store.head(lake, layout.CATALOG_KEY) is None
    monkeypatch.setattr(ObjectStore, "put_bytes", put)
    done = reconcile(world.platform, is_run_alive=lambda _: False)
    assert done.errors == []
    assert done.catalogued_datasets == ["ingest_satellite_raster/stale"]
    assert_lake_matches_ledger(world.store, world.ledger)
    again = reconcile(world.platform, is_run_alive=lambda _: False)
    assert again.catalogued_datasets == []


def test_a_version_whose_sidecars_did_not_all_land_is_failed_and_cleaned_up(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Item upload fails and so does every deletion (the store went away): the version
    stays pending with its data and ISO record in the lake; the reconciler removes both."""
    put, delete = ObjectStore.put_bytes, ObjectStore.delete

    def no_item(self: ObjectStore, bucket: str, key: str, *args: Any, **kw: Any) -> Any:
        if key.startswith("stac/") and key.endswith("/v1.json"):
            raise StorageUnavailableError("injected: connection reset", code=None)
        return put(self, bucket, key, *args, **kw)

    def no_delete(self: ObjectStore, bucket: str, key: str) -> None:
        raise StorageUnavailableError("injected: the lake is gone", code=None)

    monkeypatch.setattr(ObjectStore, "put_bytes", no_item)
    monkeypatch.setattr(ObjectStore, "delete", no_delete)
    path = world.upload("half_1", make_raster("half.tif"))
    report = world.run(
        manifest("half_1", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")])
    )
    assert report.status == "failed"
    [pending] = world.ledger.assets_of_batch("half_1")
    assert pending.status == "pending"
    assert sorted(world.lake_keys()) == sorted(pending.object_keys[:-1])  # all but the Item
    monkeypatch.setattr(ObjectStore, "put_bytes", put)
    monkeypatch.setattr(ObjectStore, "delete", delete)
    done = reconcile(world.platform, is_run_alive=lambda _: False)
    assert done.failed_assets == [pending.asset_id]
    assert world.lake_keys() == []
    assert_lake_matches_ledger(world.store, world.ledger)
