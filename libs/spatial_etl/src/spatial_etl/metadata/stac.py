"""STAC documents of the lake: an Item per asset version, a Collection per dataset, one Catalog.

Each Item carries what a STAC client needs to find and trust the data without the ledger: the
footprint and bbox (WGS84), the native CRS and raster shape (projection extension), bands and
nodata (raster extension) or columns and row count (table extension), size and checksum
(file extension, the sha256 as a multihash), the landing inputs it was derived from, and the
ledger document's id (``spatial_etl:asset_id``) to go back to the full record. Validation is
offline: stac-pydantic's models, no schema fetched.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import pystac
from pydantic import BaseModel, ValidationError
from pystac.extensions.file import FileExtension
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from pystac.extensions.table import Column, TableExtension
from stac_pydantic import Catalog, Collection, Item

from spatial_etl.errors import MetadataError
from spatial_etl.metadata import description, layout
from spatial_etl.models.ledger import AssetDocument, Provenance

MEDIA_TYPES: Final = {
    "COG": pystac.MediaType.COG.value,
    "GeoParquet": "application/vnd.apache.parquet",
}
ISO_MEDIA_TYPE: Final = "application/vnd.iso.19139+xml"
SHA256_MULTIHASH_PREFIX: Final = "1220"
"""Multihash header of a SHA-256 digest: function 0x12, length 0x20."""
_GDAL_TO_STAC: Final = {
    "Byte": "uint8",
    "Int8": "int8",
    "UInt16": "uint16",
    "Int16": "int16",
    "UInt32": "uint32",
    "Int32": "int32",
    "UInt64": "uint64",
    "Int64": "int64",
    "Float32": "float32",
    "Float64": "float64",
    "CInt16": "cint16",
    "CInt32": "cint32",
    "CFloat32": "cfloat32",
    "CFloat64": "cfloat64",
}


def stac_item(asset: AssetDocument, *, thumbnail: bool = False) -> dict[str, Any]:
    """The STAC Item of one asset version, with links relative to its lake key.

    Built while the version is pending, so it depends on nothing that changes at commit: its
    ``datetime`` is the version's creation. ``thumbnail`` adds the quicklook beside the asset.
    """
    key = layout.item_key(asset.intent, asset.dataset, asset.version)
    bbox = list(asset.bbox_wgs84) if asset.bbox_wgs84 else None
    item = pystac.Item(
        id=layout.item_id(asset.intent, asset.dataset, asset.version),
        geometry=_footprint(asset.bbox_wgs84),
        bbox=bbox,
        datetime=asset.created_at,
        properties=_properties(asset, asset.provenance),
        collection=layout.collection_id(asset.intent, asset.dataset),
    )
    data = pystac.Asset(
        href=layout.relative(key, asset.s3_key),
        media_type=MEDIA_TYPES[asset.format],
        roles=["data"],
        title=f"{asset.dataset} version {asset.version} ({asset.format})",
    )
    item.add_asset("data", data)
    item.add_asset(
        "iso19139",
        pystac.Asset(
            href=layout.relative(key, layout.beside(asset.s3_key, layout.ISO_SUFFIX)),
            media_type=ISO_MEDIA_TYPE,
            roles=["metadata"],
            title="ISO 19139 metadata record",
        ),
    )
    if thumbnail:
        item.add_asset(
            "thumbnail",
            pystac.Asset(
                href=layout.relative(key, layout.beside(asset.s3_key, layout.QUICKLOOK_SUFFIX)),
                media_type=pystac.MediaType.PNG,
                roles=["thumbnail"],
                title="Quicklook",
            ),
        )
    _describe_data(item, data, asset)
    for record in asset.inputs:
        item.add_link(pystac.Link("derived_from", record.path, title=f"sha256 {record.sha256}"))
    _structure_links(item, key, asset.intent, asset.dataset)
    document = item.to_dict(include_self_link=False, transform_hrefs=False)
    validate(document)
    return document


def stac_collection(intent: str, dataset: str, versions: Sequence[AssetDocument]) -> dict[str, Any]:
    """The Collection of a dataset: a link to every committed version's Item.

    Its extent covers every version; ``spatial_etl:latest_version`` names the current one, so
    a superseded version stays findable and is told apart from the latest.
    """
    if not versions:
        raise MetadataError(f"{intent}/{dataset} has no committed version to describe")
    ordered = sorted(versions, key=lambda doc: doc.version)
    latest = ordered[-1]
    key = layout.collection_key(intent, dataset)
    times = [doc.committed_at or doc.created_at for doc in ordered]
    collection = pystac.Collection(
        id=layout.collection_id(intent, dataset),
        title=dataset,
        description=latest.iso19115.abstract or dataset,
        extent=pystac.Extent(
            pystac.SpatialExtent([_union(doc.bbox_wgs84 for doc in ordered)]),
            pystac.TemporalExtent([[min(times), max(times)]]),
        ),
        license="other",
        keywords=description.keywords(intent, dataset, latest.provenance),
        extra_fields={"spatial_etl:latest_version": latest.version},
    )
    collection.add_link(pystac.Link("root", layout.relative(key, layout.CATALOG_KEY)))
    collection.add_link(pystac.Link("parent", layout.relative(key, layout.CATALOG_KEY)))
    for doc in ordered:
        item = doc.sidecar("stac_item")
        if item is not None:  # versions committed before Items existed have none
            href = layout.relative(key, item.key)
            collection.add_link(pystac.Link("item", href, media_type=pystac.MediaType.GEOJSON))
    newest = latest.sidecar("stac_item")
    if newest is not None:  # the version extension's pointer to the current version
        href = layout.relative(key, newest.key)
        collection.add_link(
            pystac.Link("latest-version", href, media_type=pystac.MediaType.GEOJSON)
        )
    document = collection.to_dict(include_self_link=False, transform_hrefs=False)
    validate(document)
    return document


def stac_catalog(collections: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """The root Catalog, with a child link per dataset (``(intent, dataset)`` pairs)."""
    catalog = pystac.Catalog(
        id="spatial-etl-lake",
        title="Data lake",
        description="Every dataset the platform has published, one Collection each.",
    )
    catalog.add_link(pystac.Link("root", "catalog.json", media_type=pystac.MediaType.JSON))
    for intent, dataset in sorted(set(collections)):
        href = layout.relative(layout.CATALOG_KEY, layout.collection_key(intent, dataset))
        catalog.add_link(pystac.Link("child", href, media_type=pystac.MediaType.JSON))
    document = catalog.to_dict(include_self_link=False, transform_hrefs=False)
    validate(document)
    return document


def validate(document: dict[str, Any]) -> None:
    """Check a STAC document offline with stac-pydantic; raise :class:`MetadataError`."""
    models: dict[str, type[BaseModel]] = {
        "Feature": Item,
        "Collection": Collection,
        "Catalog": Catalog,
    }
    model = models.get(str(document.get("type")))
    if model is None:
        raise MetadataError(f"not a STAC document: type {document.get('type')!r}")
    try:
        model.model_validate(document)
    except ValidationError as error:
        raise MetadataError(f"invalid STAC {document.get('type')}: {error}") from None


def multihash(sha256: str) -> str:
    """The sha256 hex digest as a multihash, STAC's ``file:checksum`` form."""
    return SHA256_MULTIHASH_PREFIX + sha256


def _properties(asset: AssetDocument, provenance: Provenance) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "title": asset.iso19115.title,
        "description": asset.iso19115.abstract,
        "created": _iso(asset.created_at),
        "spatial_etl:asset_id": asset.asset_id,
        "spatial_etl:intent": asset.intent,
        "spatial_etl:dataset": asset.dataset,
        "spatial_etl:version": asset.version,
        "spatial_etl:run_id": asset.run_id,
        "spatial_etl:batch_id": asset.batch_id,
        "spatial_etl:plugin": description.plugin_label(asset.plugin),
        "spatial_etl:lineage": list(asset.iso19115.lineage.steps),
    }
    if provenance.project:
        properties["spatial_etl:project"] = provenance.project
    if provenance.uploader:
        properties["spatial_etl:uploader"] = provenance.uploader
    return properties


def _describe_data(item: pystac.Item, data: pystac.Asset, asset: AssetDocument) -> None:
    proj = ProjectionExtension.ext(item, add_if_missing=True)
    proj.code = asset.crs if asset.crs.upper().startswith("EPSG:") else None
    files = FileExtension.ext(data, add_if_missing=True)
    files.checksum = multihash(asset.sha256)
    files.size = asset.size
    if asset.raster is not None:
        proj.shape = [asset.raster.height, asset.raster.width]
        raster = RasterExtension.ext(data, add_if_missing=True)
        known = _GDAL_TO_STAC.get(asset.raster.dtype)
        dtype = DataType(known) if known else None
        bands = [RasterBand.create(data_type=dtype) for _ in range(asset.raster.bands)]
        nodata = asset.raster.nodata_special or asset.raster.nodata  # STAC spells NaN "nan"
        if nodata is not None:
            for band in bands:
                band.properties["nodata"] = nodata
        raster.bands = bands
    else:
        table = TableExtension.ext(item, add_if_missing=True)
        table.columns = [Column({"name": c.name, "type": c.type}) for c in asset.columns]
        if asset.feature_count is not None:
            table.row_count = asset.feature_count


def _structure_links(item: pystac.Item, key: str, intent: str, dataset: str) -> None:
    collection = layout.relative(key, layout.collection_key(intent, dataset))
    item.add_link(pystac.Link("root", layout.relative(key, layout.CATALOG_KEY)))
    item.add_link(pystac.Link("parent", collection, media_type=pystac.MediaType.JSON))
    item.add_link(pystac.Link("collection", collection, media_type=pystac.MediaType.JSON))


def _footprint(bbox: tuple[float, float, float, float] | None) -> dict[str, Any] | None:
    """The bbox as GeoJSON; a box crossing the antimeridian (west > east) as two polygons."""
    if bbox is None:
        return None
    west, south, east, north = bbox
    if west <= east:
        return {"type": "Polygon", "coordinates": [_ring(west, south, east, north)]}
    return {
        "type": "MultiPolygon",
        "coordinates": [[_ring(west, south, 180.0, north)], [_ring(-180.0, south, east, north)]],
    }


def _ring(west: float, south: float, east: float, north: float) -> list[list[float]]:
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def _union(boxes: Iterable[tuple[float, float, float, float] | None]) -> list[float]:
    known = [box for box in boxes if box is not None and box[0] <= box[2]]
    if not known:
        return [-180.0, -90.0, 180.0, 90.0]
    return [
        min(b[0] for b in known),
        min(b[1] for b in known),
        max(b[2] for b in known),
        max(b[3] for b in known),
    ]


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")
