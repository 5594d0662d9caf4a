"""The convergence invariants every fault test ends with, after a reconciler pass.

If it is not committed in the ledger it does not exist; what is committed is true:
every run and batch final, no run schema left, no pending asset, every lake object either owned
by a committed document (its data object or one of its sidecars, carrying the document's id and
the recorded sha256) or one of the STAC aggregates, which list exactly the committed datasets and
versions; and nothing pending in ``manifests/``.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable

from spatial_etl.backends.ledger import Ledger
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.metadata import layout
from spatial_etl.models.ledger import AssetDocument
from spatial_etl.run.executor import Platform
from spatial_etl.run.intake import pending_manifests


def assert_converged(
    platform: Platform, *, batches: Iterable[str], schemas: Iterable[str] = ()
) -> None:
    """Assert the invariants for ``batches`` (and that ``schemas`` are gone from PostGIS)."""
    ledger: Ledger = platform.ledger
    store = platform.store
    for batch_id in batches:
        batch = ledger.get_batch(batch_id)
        assert batch is not None, batch_id
        assert batch.status in ("succeeded", "failed", "rejected"), (batch_id, batch.status)
        assert batch.lease is None, (batch_id, batch.lease)
        for run in ledger.runs_of_batch(batch_id):
            assert run.status in ("succeeded", "failed"), (run.run_id, run.status)
            if run.status == "failed":
                assert run.error is not None
                assert run.error.type, run.error
    assert ledger.running_runs() == []
    assert ledger.pending_assets() == []
    assert_lake_matches_ledger(store, ledger)
    assert pending_manifests(store) == []
    if platform.compute is not None:
        left = {name for name, _ in platform.compute.run_schemas()}
        assert not left & set(schemas), left & set(schemas)


def assert_lake_matches_ledger(store: ObjectStore, ledger: Ledger) -> None:
    """Every lake object is a committed version's, or a STAC aggregate that tells the truth."""
    lake = store.settings.lake_bucket
    committed = ledger.list_assets(latest_only=False, limit=10_000)
    owned: dict[str, tuple[AssetDocument, str]] = {}
    for doc in committed:
        assert doc.catalogued_at is not None, f"{doc.s3_key} is committed but not catalogued"
        owned[doc.s3_key] = (doc, doc.sha256)
        owned.update({item.key: (doc, item.sha256) for item in doc.sidecars})
    datasets = sorted({(doc.intent, doc.dataset) for doc in committed})
    aggregates = {layout.CATALOG_KEY} if datasets else set()
    aggregates |= {layout.collection_key(intent, dataset) for intent, dataset in datasets}
    for item in store.iter_objects(lake):
        if item.key in aggregates:
            continue
        entry = owned.get(item.key)
        assert entry is not None, f"lake object {item.key} has no committed document"
        head = store.head(lake, item.key)
        assert head is not None
        assert head.metadata.get("mongodb_doc_id") == entry[0].asset_id
        assert store.sha256(lake, item.key) == entry[1]
    for key in owned:
        assert store.head(lake, key) is not None, f"{key} is committed but missing"
    if datasets:
        _assert_aggregates(store, lake, committed, datasets)


def _assert_aggregates(
    store: ObjectStore,
    lake: str,
    committed: list[AssetDocument],
    datasets: list[tuple[str, str]],
) -> None:
    catalog = json.loads(store.get_bytes(lake, layout.CATALOG_KEY)[0])
    children = sorted(_targets(layout.CATALOG_KEY, catalog, "child"))
    assert children == sorted(layout.collection_key(i, d) for i, d in datasets), children
    for intent, dataset in datasets:
        key = layout.collection_key(intent, dataset)
        collection = json.loads(store.get_bytes(lake, key)[0])
        items = sorted(_targets(key, collection, "item"))
        wanted = sorted(
            item.key
            for doc in committed
            if (doc.intent, doc.dataset) == (intent, dataset)
            for item in doc.sidecars
            if item.role == "stac_item"
        )
        assert items == wanted, (key, items, wanted)


def _targets(from_key: str, document: dict[str, object], rel: str) -> list[str]:
    links = document.get("links")
    assert isinstance(links, list)
    return [
        posixpath.normpath(posixpath.join(posixpath.dirname(from_key), link["href"]))
        for link in links
        if link["rel"] == rel
    ]
