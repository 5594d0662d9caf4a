"""What the catalogue says about an asset: a search result and the full record, as JSON.

The pages render the same dictionaries the API returns, so both always agree. URLs are
root-relative paths of this application (the URL contract shared with the batches and STAC
sections); lake objects are also named by their ``s3://`` URI.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from spatial_etl.metadata import layout
from spatial_etl.models.ledger import AssetDocument, SidecarRole

from spatial_etl_web.catalogue import Catalogue

VERSIONS_LISTED: Final = 100
"""Versions of a dataset and duplicates of an asset listed with it; more are not fetched."""


def asset_url(asset_id: str) -> str:
    """The asset's page."""
    return f"/assets/{asset_id}"


def api_url(asset_id: str, tail: str = "") -> str:
    """The asset's JSON record, or one of its endpoints (``/quicklook.png``...)."""
    return f"/api/assets/{asset_id}{tail}"


def quicklook_url(asset: AssetDocument) -> str | None:
    """Where the quicklook is served, None when the version has none (or is not in the lake)."""
    if asset.status != "committed" or asset.sidecar("thumbnail") is None:
        return None
    return api_url(asset.asset_id, "/quicklook.png")


def when(value: datetime | str | None) -> str:
    """An instant (or its ISO form, as the JSON has it) for people: ``2025-03-01 12:00:00 UTC``."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


def size(value: int) -> str:
    """A byte count for people: ``512 B``, ``11.8 MiB``."""
    if value < 1024:
        return f"{value} B"
    amount = float(value)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        amount /= 1024
        if amount < 1024 or unit == "TiB":
            break
    return f"{amount:.1f} {unit}"


def content(asset: AssetDocument) -> str:
    """What an asset holds: ``2,148 features`` or ``8000 x 8000 x 3 Float32``."""
    if asset.raster is not None:
        facts = asset.raster
        return f"{facts.width} x {facts.height} x {facts.bands} {facts.dtype}"
    if asset.feature_count is not None:
        return f"{asset.feature_count:,} features"
    return "-"


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def summary(asset: AssetDocument) -> dict[str, Any]:
    """A search result: what a card shows, with the links to go further."""
    return {
        "asset_id": asset.asset_id,
        "intent": asset.intent,
        "dataset": asset.dataset,
        "version": asset.version,
        "status": asset.status,
        "format": asset.format,
        "crs": asset.crs,
        "title": asset.iso19115.title,
        "description": asset.provenance.description,
        "project": asset.provenance.project,
        "uploader": asset.provenance.uploader,
        "content": content(asset),
        "size": asset.size,
        "bbox": list(asset.bbox_wgs84) if asset.bbox_wgs84 is not None else None,
        "committed_at": _instant(asset.committed_at),
        "links": {
            "self": api_url(asset.asset_id),
            "page": asset_url(asset.asset_id),
            "quicklook": quicklook_url(asset),
        },
    }


def _lake_uri(asset: AssetDocument, role: SidecarRole) -> str | None:
    found = asset.sidecar(role)
    return None if found is None else f"s3://{asset.bucket}/{found.key}"


def links(asset: AssetDocument) -> dict[str, str | None]:
    """The asset's links: this application's endpoints, and the lake's objects.

    The served ones (quicklook, ISO record, STAC Item, download) exist only for a committed
    version, the only kind the lake holds for sure; they are None otherwise.
    """
    committed = asset.status == "committed"
    served_iso = committed and asset.sidecar("iso19139") is not None
    collection = layout.collection_id(asset.intent, asset.dataset)
    item = layout.item_id(asset.intent, asset.dataset, asset.version)
    return {
        "self": api_url(asset.asset_id),
        "page": asset_url(asset.asset_id),
        "quicklook": quicklook_url(asset),
        "iso19139": api_url(asset.asset_id, "/iso19139.xml") if served_iso else None,
        "stac_item": f"/stac/collections/{collection}/items/{item}" if committed else None,
        "download": api_url(asset.asset_id, "/download") if committed else None,
        "batch": f"/batches/{asset.batch_id}",
        "data_s3": asset.s3_uri,
        "stac_item_s3": _lake_uri(asset, "stac_item"),
        "iso19139_s3": _lake_uri(asset, "iso19139"),
        "quicklook_s3": _lake_uri(asset, "thumbnail"),
    }


def detail(catalogue: Catalogue, asset: AssetDocument) -> dict[str, Any]:
    """The full record: the ledger document, the dataset's versions, lineage, duplicates, links.

    Reads the dataset's committed versions (newest first), the duplicates of a committed
    asset, its run and its batch: at most :data:`VERSIONS_LISTED` of each list.
    """
    ledger = catalogue.ledger
    versions = ledger.dataset_versions(asset.intent, asset.dataset, limit=VERSIONS_LISTED)
    duplicates = (
        ledger.duplicates_of(asset.asset_id, limit=VERSIONS_LISTED)
        if asset.status == "committed"
        else []
    )
    run = ledger.get_run(asset.run_id)
    batch = ledger.get_batch(asset.batch_id)
    latest = versions[0].version if versions else None
    return {
        "asset": asset.model_dump(mode="json", by_alias=True),
        "committed": asset.status == "committed",
        "latest": latest == asset.version and asset.status == "committed",
        "latest_version": latest,
        "versions": [
            {
                "asset_id": doc.asset_id,
                "version": doc.version,
                "committed_at": _instant(doc.committed_at),
                "content": content(doc),
                "size": doc.size,
                "sha256": doc.sha256,
                "current": doc.asset_id == asset.asset_id,
                "page": asset_url(doc.asset_id),
            }
            for doc in versions
        ],
        "lineage": {
            "statement": asset.iso19115.lineage.statement,
            "steps": list(asset.iso19115.lineage.steps),
            "inputs": [record.model_dump(mode="json") for record in asset.inputs],
            "plugin": asset.plugin.model_dump(mode="json"),
            "parameters": asset.parameters,
            "run": None
            if run is None
            else {
                "run_id": run.run_id,
                "status": run.status,
                "started_at": _instant(run.started_at),
                "finished_at": _instant(run.finished_at),
                "timings": run.timings,
            },
            "run_id": asset.run_id,
            "batch": {
                "batch_id": asset.batch_id,
                "status": batch.status if batch is not None else None,
                "page": f"/batches/{asset.batch_id}",
                "api": f"/api/batches/{asset.batch_id}",
            },
        },
        "duplicates": [
            {
                "asset_id": doc.asset_id,
                "run_id": doc.run_id,
                "batch_id": doc.batch_id,
                "created_at": _instant(doc.created_at),
            }
            for doc in duplicates
        ],
        "links": links(asset),
    }
