"""STAC and ISO 19139 documents generated from ledger documents, validated offline."""

from __future__ import annotations

import copy
import json
import posixpath
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pystac
import pytest
from ledger_documents import raster_asset, vector_asset
from pygeometa.schemas.iso19139 import ISO19139OutputSchema
from spatial_etl.errors import MetadataError
from spatial_etl.metadata import iso, layout, sidecars
from spatial_etl.metadata.iso import iso_record, read_iso, render_mcf
from spatial_etl.metadata.stac import (
    multihash,
    stac_catalog,
    stac_collection,
    stac_item,
    validate,
)
from spatial_etl.models.ledger import AssetDocument, Provenance

COMMITTED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PROVENANCE = Provenance(project="cadastre", uploader="alice", description="Districts <2024>")


def _committed(doc: AssetDocument) -> AssetDocument:
    """``doc`` as the publisher makes it: the batch's provenance, its sidecars, committed."""
    block = doc.iso19115.model_copy(update={"abstract": PROVENANCE.description})
    described = doc.model_copy(update={"provenance": PROVENANCE, "iso19115": block})
    listed, _ = sidecars.render(described, quicklook=None)
    return listed.model_copy(update={"status": "committed", "committed_at": COMMITTED})


def test_a_vector_item_carries_projection_table_file_and_lineage() -> None:
    asset = _committed(vector_asset())
    item = stac_item(asset)
    assert item["id"] == "ingest_vector_boundary.districts.v1"
    assert item["collection"] == "ingest_vector_boundary.districts"
    assert item["bbox"] == [5.9, 45.8, 10.5, 47.8]
    assert item["geometry"]["type"] == "Polygon"
    props = item["properties"]
    assert props["datetime"] == asset.created_at.isoformat().replace("+00:00", "Z")
    assert props["proj:code"] == "EPSG:4326"
    assert props["table:row_count"] == 2_148
    assert props["table:columns"] == [
        {"name": "name", "type": "string"},
        {"name": "geometry", "type": "binary"},
    ]
    assert props["spatial_etl:asset_id"] == asset.asset_id
    assert props["spatial_etl:project"] == "cadastre"
    assert props["description"] == "Districts <2024>"
    data = item["assets"]["data"]
    assert data["file:checksum"] == "1220" + asset.sha256
    assert data["file:size"] == asset.size
    assert data["type"] == "application/vnd.apache.parquet"
    derived = [link for link in item["links"] if link["rel"] == "derived_from"]
    assert [link["href"] for link in derived] == [record.path for record in asset.inputs]


def test_a_raster_item_carries_shape_bands_and_an_antimeridian_footprint() -> None:
    asset = _committed(raster_asset())
    item = stac_item(asset)
    assert item["properties"]["proj:code"] == "EPSG:32633"
    assert item["properties"]["proj:shape"] == [8000, 8000]
    bands = item["assets"]["data"]["raster:bands"]
    assert bands == [{"data_type": "float32", "nodata": "nan"}] * 3
    assert item["geometry"]["type"] == "MultiPolygon"  # split at 180 degrees
    assert item["bbox"] == [179.5, -10.0, -179.5, -9.0]
    assert item["assets"]["data"]["type"] == pystac.MediaType.COG.value


def test_every_link_resolves_inside_the_lake() -> None:
    """Relative hrefs from each document's key land on the keys the layout assigns."""
    asset = _committed(vector_asset())
    item_key = layout.item_key(asset.intent, asset.dataset, asset.version)
    item = stac_item(asset, thumbnail=True)

    def target(from_key: str, href: str) -> str:
        return posixpath.normpath(posixpath.join(posixpath.dirname(from_key), href))

    assets = item["assets"]
    assert target(item_key, assets["data"]["href"]) == asset.s3_key
    assert target(item_key, assets["iso19139"]["href"]).endswith(".iso19139.xml")
    assert assets["thumbnail"]["roles"] == ["thumbnail"]
    links = {link["rel"]: link["href"] for link in item["links"] if link["rel"] != "derived_from"}
    assert target(item_key, links["collection"]) == layout.collection_key(
        asset.intent, asset.dataset
    )
    assert target(item_key, links["root"]) == layout.CATALOG_KEY
    validate(item)


def test_collection_and_catalog_list_every_version_and_dataset() -> None:
    first = _committed(vector_asset())
    second = _committed(vector_asset(version=2, bbox_wgs84=(0.0, 40.0, 6.0, 46.0)))
    collection = stac_collection("ingest_vector_boundary", "districts", [second, first])
    items = [link["href"] for link in collection["links"] if link["rel"] == "item"]
    assert items == ["v1.json", "v2.json"]
    assert collection["extent"]["spatial"]["bbox"] == [[0.0, 40.0, 10.5, 47.8]]
    assert collection["spatial_etl:latest_version"] == 2
    catalog = stac_catalog([("ingest_vector_boundary", "districts"), ("b", "c")])
    children = [link["href"] for link in catalog["links"] if link["rel"] == "child"]
    assert children == ["b/c/collection.json", "ingest_vector_boundary/districts/collection.json"]
    with pytest.raises(MetadataError, match="no committed version"):
        stac_collection("x", "y", [])


def test_pystac_reads_the_tree_back_from_a_folder(tmp_path: Path) -> None:
    """Written where the layout says, the catalogue is what pystac resolves, item to asset."""
    asset = _committed(vector_asset())
    documents: dict[str, Any] = {
        layout.CATALOG_KEY: stac_catalog([(asset.intent, asset.dataset)]),
        layout.collection_key(asset.intent, asset.dataset): stac_collection(
            asset.intent, asset.dataset, [asset]
        ),
        layout.item_key(asset.intent, asset.dataset, 1): stac_item(asset),
    }
    for key, document in documents.items():
        path = tmp_path / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document))
    catalog = pystac.Catalog.from_file(str(tmp_path / layout.CATALOG_KEY))
    [item] = list(catalog.get_items(recursive=True))
    assert item.id == "ingest_vector_boundary.districts.v1"
    assert item.assets["data"].get_absolute_href() == str(tmp_path / asset.s3_key)
    assert item.properties["spatial_etl:asset_id"] == asset.asset_id


def test_an_invalid_document_is_refused() -> None:
    item = stac_item(_committed(vector_asset()))
    with pytest.raises(MetadataError, match="invalid STAC Feature"):
        validate({**item, "bbox": "everywhere"})
    with pytest.raises(MetadataError, match="not a STAC document"):
        validate({"type": "Thing"})


@pytest.mark.parametrize("make", [vector_asset, raster_asset])
def test_the_cached_iso_template_renders_what_pygeometa_writes(
    make: Callable[[], AssetDocument],
) -> None:
    asset = _committed(make())
    mcf = iso._mcf(asset, asset.provenance)
    written = ISO19139OutputSchema().write(copy.deepcopy(mcf))
    assert render_mcf(copy.deepcopy(mcf)) == written
    assert render_mcf(mcf) == written  # the second rendering, from the compiled template
    assert "Districts &lt;2024&gt;" in written  # escaped by the template itself


def test_without_a_safe_cache_directory_the_template_is_compiled_in_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unsafe(*_: object) -> None:
        raise RuntimeError("Cannot determine safe temp directory.")

    monkeypatch.setattr(iso, "_BestEffortCache", unsafe)
    iso._iso_template.cache_clear()
    try:
        assert iso._bytecode_cache() is None
        asset = _committed(raster_asset())
        mcf = iso._mcf(asset, asset.provenance)
        assert render_mcf(copy.deepcopy(mcf)) == ISO19139OutputSchema().write(mcf)
    finally:
        iso._iso_template.cache_clear()


def test_a_cache_that_cannot_be_written_or_read_never_fails_the_record(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def disk_full(*_: object, **__: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(iso.jinja2.bccache.tempfile, "NamedTemporaryFile", disk_full)
    monkeypatch.setattr(iso.jinja2.bccache, "open", disk_full, raising=False)
    monkeypatch.setattr(
        iso.jinja2.FileSystemBytecodeCache, "_get_default_cache_dir", lambda _: str(tmp_path)
    )
    iso._iso_template.cache_clear()
    try:
        asset = _committed(vector_asset())
        mcf = iso._mcf(asset, asset.provenance)
        assert render_mcf(copy.deepcopy(mcf)) == ISO19139OutputSchema().write(mcf)
        assert list(tmp_path.iterdir()) == []  # nothing half-written left in the cache
    finally:
        iso._iso_template.cache_clear()


def test_the_iso_record_reads_back_with_extent_crs_title_lineage_and_uri() -> None:
    asset = _committed(vector_asset(crs="EPSG:2056"))
    summary = read_iso(iso_record(asset))
    assert summary.identifier == asset.asset_id
    assert summary.title == asset.iso19115.title
    assert summary.abstract == "Districts <2024>"
    assert summary.bbox == (5.9, 45.8, 10.5, 47.8)
    assert summary.reference_system == "urn:ogc:def:crs:EPSG::2056"
    assert "Loaded boundaries.gpkg" in summary.lineage
    assert "export: GeoParquet" in summary.lineage
    assert summary.urls == (asset.s3_uri,)


def test_a_raster_record_without_extent_and_a_broken_record() -> None:
    asset = _committed(raster_asset())
    summary = read_iso(iso_record(asset.model_copy(update={"provenance": Provenance()})))
    assert summary.reference_system == "urn:ogc:def:crs:EPSG::32633"
    assert summary.abstract == asset.iso19115.abstract
    with pytest.raises(MetadataError, match="cannot be read"):
        read_iso(b"<not-iso/>")


def test_multihash_of_a_sha256() -> None:
    assert multihash("ab" * 32) == "1220" + "ab" * 32
