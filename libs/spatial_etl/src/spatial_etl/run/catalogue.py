"""Keep the lake's STAC tree true to the ledger: sidecars per version, Collections, Catalog.

Two kinds of metadata objects live in the lake bucket:

- **Sidecars** (ISO record, quicklook, STAC Item) belong to one version. They are listed in its
  ledger document while it is pending and uploaded before its commit, each tagged with the
  document's id and hash like the data object, so they are committed or deleted with it.
- **Aggregates** (a dataset's ``collection.json``, the root ``catalog.json``) are derived:
  each is a function of the ledger's committed versions, rewritten after every commit.
  Concurrent commits race to rewrite them, so a writer reads the ledger, writes, then reads the
  ledger again and rewrites until what it wrote matches what the ledger says. The last write
  after the last commit is therefore always the current state. Only then are the versions
  marked ``catalogued_at``; a writer that dies first leaves them unmarked, and the reconciler
  (:func:`catch_up`) rewrites their aggregates on its next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from spatial_etl.backends.ledger import Ledger
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.errors import CatalogueError, PublishError
from spatial_etl.metadata import layout
from spatial_etl.metadata.sidecars import STAC_JSON_MEDIA_TYPE, Rendered, dumps
from spatial_etl.metadata.stac import stac_catalog, stac_collection
from spatial_etl.models.ledger import AssetDocument

_ATTEMPTS: Final = 8
DERIVED_ROLE: Final = "stac_aggregate"
"""``role`` metadata of an aggregate object (Collection or Catalog): it names no document."""

logger = logging.getLogger(__name__)


def upload_sidecars(store: ObjectStore, doc: AssetDocument, rendered: Sequence[Rendered]) -> None:
    """Upload a pending version's sidecars, each checked against the record the ledger holds."""
    for entry in rendered:
        record = entry.record
        stored = store.put_bytes(
            doc.bucket,
            record.key,
            entry.content,
            metadata={"mongodb_doc_id": doc.asset_id, "role": record.role},
            content_type=record.media_type,
        )
        if stored.content_hash != record.sha256 or stored.size != record.size:
            raise PublishError(
                f"s3://{doc.bucket}/{record.key} does not match its ledger record "
                f"(sha256 {stored.content_hash}, {stored.size} bytes)"
            )


def refresh(
    store: ObjectStore,
    ledger: Ledger,
    intent: str,
    dataset: str,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[str]:
    """Rewrite the dataset's Collection and the Catalog until they match the ledger.

    Returns the ids of the versions marked catalogued. Raises :class:`CatalogueError` when the
    ledger kept changing for every attempt (the reconciler finishes then).
    """
    bucket = store.settings.lake_bucket
    for _ in range(_ATTEMPTS):
        versions = ledger.committed_versions(intent, dataset)
        datasets = ledger.committed_datasets()
        _write_collection(store, bucket, intent, dataset, versions)
        _write(store, bucket, layout.CATALOG_KEY, dumps(stac_catalog(datasets)))
        if _ids(ledger.committed_versions(intent, dataset)) == _ids(versions) and (
            ledger.committed_datasets() == datasets
        ):
            ledger.mark_catalogued([doc.asset_id for doc in versions], clock())
            return [doc.asset_id for doc in versions]
    raise CatalogueError(
        f"the catalogue of {intent}/{dataset} kept changing while it was rewritten; "
        "the reconciler will finish it"
    )


def refresh_quietly(store: ObjectStore, ledger: Ledger, doc: AssetDocument) -> bool:
    """:func:`refresh` after a commit; a failure is logged, never raised (the commit stands)."""
    try:
        refresh(store, ledger, doc.intent, doc.dataset)
    except Exception as error:  # noqa: BLE001 - the reconciler catches up; the version is committed
        logger.warning(
            "the STAC catalogue of %s/%s was not updated (%s: %s); the reconciler will",
            doc.intent,
            doc.dataset,
            type(error).__name__,
            error,
        )
        return False
    return True


def catch_up(
    store: ObjectStore, ledger: Ledger, is_run_alive: Callable[[str], bool]
) -> tuple[list[str], list[str]]:
    """Refresh every dataset with a committed version not yet catalogued.

    Such a version's run died, or failed to write, after its commit; versions of live runs are
    left to their run. Returns the datasets rewritten (``intent/dataset``) and the errors met;
    one dataset's failure does not stop the others.
    """
    datasets = sorted(
        {
            (doc.intent, doc.dataset)
            for doc in ledger.uncatalogued_assets()
            if not is_run_alive(doc.run_id)
        }
    )
    done: list[str] = []
    errors: list[str] = []
    for intent, dataset in datasets:
        try:
            refresh(store, ledger, intent, dataset)
        except Exception as error:  # noqa: BLE001 - collected; the next pass retries
            errors.append(f"catalogue {intent}/{dataset}: {type(error).__name__}: {error}")
            continue
        done.append(f"{intent}/{dataset}")
    return done, errors


def _write_collection(
    store: ObjectStore, bucket: str, intent: str, dataset: str, versions: list[AssetDocument]
) -> None:
    key = layout.collection_key(intent, dataset)
    if not versions:
        store.delete(bucket, key)
        return
    _write(store, bucket, key, dumps(stac_collection(intent, dataset, versions)))


def _write(store: ObjectStore, bucket: str, key: str, content: bytes) -> None:
    store.put_bytes(
        bucket, key, content, metadata={"role": DERIVED_ROLE}, content_type=STAC_JSON_MEDIA_TYPE
    )


def _ids(versions: Sequence[AssetDocument]) -> list[str]:
    return [doc.asset_id for doc in versions]
