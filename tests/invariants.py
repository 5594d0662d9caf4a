"""The convergence invariants every fault test ends with, after a reconciler pass.

If it is not committed in the ledger it does not exist; what is committed is true:
every run and batch final, no run schema left, no pending asset, every lake object linked to a
committed document whose sha256 and id it carries, and nothing pending in ``manifests/``.
"""

from __future__ import annotations

from collections.abc import Iterable

from spatial_etl.backends.ledger import Ledger
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
    lake = store.settings.lake_bucket
    committed = {doc.s3_key: doc for doc in ledger.list_assets(latest_only=False, limit=10_000)}
    for item in store.iter_objects(lake):
        doc = committed.get(item.key)
        assert doc is not None, f"lake object {item.key} has no committed document"
        head = store.head(lake, item.key)
        assert head is not None
        assert head.metadata.get("mongodb_doc_id") == doc.asset_id
        assert store.sha256(lake, item.key) == doc.sha256
    for doc in committed.values():
        assert store.head(lake, doc.s3_key) is not None, f"{doc.s3_key} is committed but missing"
    assert pending_manifests(store) == []
    if platform.compute is not None:
        left = {name for name, _ in platform.compute.run_schemas()}
        assert not left & set(schemas), left & set(schemas)
