"""Publish a product to the lake, linked both ways with its ledger document.

The protocol: create the ledger document first (``pending``, claiming the
dataset's next version and its key), upload the object with user metadata naming that
document, verify what landed, then mark the document ``committed``. A reader trusts only
committed documents, so a crash at any point leaves nothing a reader would believe; a failed
upload deletes its object and marks its document ``failed``.

This module is also the one place that decides whether a run makes a new version at all. Before
any work, :func:`reuse_unchanged` finds the dataset's latest version made from the same inputs
by the same plugin version and parameters; after the work, :func:`publish` finds a committed
version with the same content. Either way nothing is uploaded and the run records a
``duplicate`` document naming the version it reproduced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from pydantic import JsonValue

from spatial_etl.backends.ledger import Ledger
from spatial_etl.backends.storage import FileDigest, ObjectStore, hash_file
from spatial_etl.errors import DuplicateAssetError, PublishError, SpatialEtlError
from spatial_etl.metadata import description, sidecars
from spatial_etl.models.extent import normalize_wgs84_bbox
from spatial_etl.models.ledger import (
    AssetDocument,
    Distribution,
    InputRecord,
    PluginRecord,
    Provenance,
    new_asset_id,
)
from spatial_etl.run import catalogue
from spatial_etl.run.products import Product
from spatial_etl.steps.export import ExportFormat

_SUFFIX: Final = {ExportFormat.GEOPARQUET: ".parquet", ExportFormat.COG: ".tif"}
_CONTENT_TYPE: Final = {
    ExportFormat.GEOPARQUET: "application/vnd.apache.parquet",
    ExportFormat.COG: "image/tiff; application=geotiff; profile=cloud-optimized",
}
_CLAIM_ATTEMPTS: Final = 8
_CLAIM_BACKOFF_S: Final = 0.05

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishContext:
    """What every asset of one run shares."""

    store: ObjectStore
    ledger: Ledger
    run_id: str
    batch_id: str
    intent: str
    plugin: PluginRecord
    parameters: dict[str, JsonValue]
    provenance: Provenance
    intent_summary: str
    """What the intent makes: the abstract when the manifest has no description."""
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    guard: Callable[[], None] | None = None
    """Raises unless the run may still publish (it holds its batch's lease)."""

    def check(self) -> None:
        """Call the guard, if any: before a version is claimed and before a commit."""
        if self.guard is not None:
            self.guard()

    @property
    def bucket(self) -> str:
        """The lake bucket."""
        return self.store.settings.lake_bucket


def lake_key(intent: str, dataset: str, version: int, fmt: ExportFormat) -> str:
    """One immutable key per dataset version: ``<intent>/<dataset>/v<N>/<dataset><ext>``."""
    return f"{intent}/{dataset}/v{version}/{dataset}{_SUFFIX[fmt]}"


def publish(
    product: Product, dataset: str, inputs: Sequence[InputRecord], ctx: PublishContext
) -> AssetDocument:
    """Publish ``product`` as the dataset's next version, or record it as a duplicate.

    Content equal to any committed version of the dataset is a duplicate of that version: the
    unique index on (intent, dataset, sha256) makes this hold under concurrency too, since a
    racing run's insert of the same content fails and finds the committed one on retry.
    Whatever interrupts the upload, the object is deleted and the document failed; if the
    deletion itself fails the document stays pending for the reconciler, never committed.
    """
    hashed = product.digest if product.digest is not None else hash_file(product.path)
    quicklook = product.quicklook.read_bytes() if product.quicklook is not None else None
    claimed = _claim(product, dataset, inputs, hashed, ctx, quicklook=quicklook)
    if not isinstance(claimed, _Pending):
        return claimed
    pending = claimed.doc
    try:
        _upload_and_verify(product, pending, hashed, ctx)
        catalogue.upload_sidecars(ctx.store, pending, claimed.sidecars)
        ctx.check()
    except BaseException as error:
        _abandon(pending, error, ctx)
        if isinstance(error, SpatialEtlError):
            raise PublishError(f"publishing {pending.s3_uri} failed: {error}") from error
        raise
    committed = ctx.ledger.commit_asset(pending.asset_id, ctx.clock())
    catalogue.refresh_quietly(ctx.store, ctx.ledger, committed)
    return committed


def reuse_unchanged(
    dataset: str, inputs: Sequence[InputRecord], ctx: PublishContext
) -> AssetDocument | None:
    """Record a duplicate of the latest version if this run would only reproduce it.

    The latest committed version reproduces this run when it was made from inputs with the same
    hashes, by the same plugin version, with the same parameters; the run's work is then
    skipped. Returns the duplicate document, or ``None`` when the work must be done.
    """
    latest = ctx.ledger.latest_committed(ctx.intent, dataset)
    if latest is None:
        return None
    same = (
        sorted(record.sha256 for record in latest.inputs)
        == sorted(record.sha256 for record in inputs)
        and latest.plugin.version == ctx.plugin.version
        and latest.parameters == ctx.parameters
    )
    if not same:
        return None
    logger.info(
        "%s: inputs unchanged since version %s; recording a duplicate", dataset, latest.version
    )
    return record_duplicate(latest, inputs, ctx)


def record_duplicate(
    original: AssetDocument, inputs: Sequence[InputRecord], ctx: PublishContext
) -> AssetDocument:
    """Record that this run reproduced ``original``: no upload, a ``duplicate`` document."""
    doc = original.model_copy(
        update={
            "asset_id": new_asset_id(),
            "status": "duplicate",
            "duplicate_of": original.asset_id,
            "run_id": ctx.run_id,
            "batch_id": ctx.batch_id,
            "plugin": ctx.plugin,
            "inputs": list(inputs),
            "parameters": ctx.parameters,
            "created_at": ctx.clock(),
            "committed_at": None,
            "catalogued_at": None,
            "failure": None,
            "provenance": ctx.provenance,
        }
    )
    ctx.ledger.record_duplicate(doc)
    return doc


@dataclass(frozen=True)
class _Pending:
    doc: AssetDocument
    sidecars: list[sidecars.Rendered]


def _claim(
    product: Product,
    dataset: str,
    inputs: Sequence[InputRecord],
    hashed: FileDigest,
    ctx: PublishContext,
    *,
    quicklook: bytes | None,
) -> AssetDocument | _Pending:
    """Insert the pending document, or find the committed version this content duplicates.

    A claim can lose to a concurrent run: the same version or key (claim the next one), or the
    same content (its version is committed, or about to be: wait for it, then record a
    duplicate). Bounded: after ``_CLAIM_ATTEMPTS`` tries the publish fails.
    """
    for attempt in range(_CLAIM_ATTEMPTS):
        same = ctx.ledger.find_committed_by_sha256(ctx.intent, dataset, hashed.sha256)
        if same is not None:
            return record_duplicate(same, inputs, ctx)
        ctx.check()
        version = ctx.ledger.next_version(ctx.intent, dataset)
        doc = _document(product, dataset, version, inputs=inputs, hashed=hashed, ctx=ctx)
        doc, rendered = sidecars.render(doc, quicklook)
        try:
            ctx.ledger.insert_pending_asset(doc)
        except DuplicateAssetError:
            time.sleep(min(_CLAIM_BACKOFF_S * 2**attempt, 5.0))
            continue
        return _Pending(doc, rendered)
    raise PublishError(
        f"could not claim a version of {ctx.intent}/{dataset}: another asset document holds "
        "the same version or the same content (a run still publishing, or a dead run's pending "
        "document the reconciler has not resolved yet); retry the batch later"
    )


def _upload_and_verify(
    product: Product, pending: AssetDocument, hashed: FileDigest, ctx: PublishContext
) -> None:
    """Upload with the digest the document claimed (hashed once), then check what landed.

    ``put_file`` refuses a file changed since it was hashed; a HEAD of our own then compares
    what the lake holds with the document (a round trip, next to a full read of the file).
    """
    metadata = {"mongodb_doc_id": pending.asset_id, "run_id": ctx.run_id, "intent": ctx.intent}
    ctx.store.put_file(
        ctx.bucket,
        pending.s3_key,
        product.path,
        metadata=metadata,
        content_type=_CONTENT_TYPE[product.format],
        digest=hashed,
    )
    landed = ctx.store.head(ctx.bucket, pending.s3_key)
    if landed is None:
        raise PublishError(f"{pending.s3_uri} is missing right after its upload")
    problems = [
        f"{name} is {found!r}, expected {wanted!r}"
        for name, found, wanted in (
            ("content_hash", landed.metadata.get("content_hash"), pending.sha256),
            ("mongodb_doc_id", landed.metadata.get("mongodb_doc_id"), pending.asset_id),
            ("size", landed.size, pending.size),
        )
        if found != wanted
    ]
    if problems:
        raise PublishError(f"{pending.s3_uri} does not match its ledger document: {problems}")


def _abandon(pending: AssetDocument, error: BaseException, ctx: PublishContext) -> None:
    """Leave no object without a committed document; never raise over the original error.

    The objects (data and sidecars) are deleted, then the document failed. If a deletion fails
    (the store is unreachable), the document is left pending: its run ends, and the reconciler
    later commits it (every object complete and verified) or deletes them and fails it.
    """
    try:
        for key in pending.object_keys:
            ctx.store.delete(ctx.bucket, key)
    except Exception as delete_error:  # noqa: BLE001 - the original error is what matters
        logger.warning("could not delete %s after %r: %s", pending.s3_uri, error, delete_error)
        return
    try:
        ctx.ledger.fail_asset(
            pending.asset_id, f"{type(error).__name__}: {error}"[:4000] or "failed"
        )
    except Exception as fail_error:  # noqa: BLE001 - the reconciler resolves a pending asset
        logger.warning("could not mark asset %s failed: %s", pending.asset_id, fail_error)


def _document(
    product: Product,
    dataset: str,
    version: int,
    *,
    inputs: Sequence[InputRecord],
    hashed: FileDigest,
    ctx: PublishContext,
) -> AssetDocument:
    key = lake_key(ctx.intent, dataset, version, product.format)
    bbox = normalize_wgs84_bbox(product.bbox_wgs84)
    block = description.ledger_block(
        dataset=dataset,
        version=version,
        intent=ctx.intent,
        plugin=ctx.plugin,
        run_id=ctx.run_id,
        batch_id=ctx.batch_id,
        inputs=inputs,
        steps=product.steps,
        provenance=ctx.provenance,
        intent_summary=ctx.intent_summary,
        crs=product.crs,
        bbox_wgs84=bbox,
        distribution=Distribution(format=product.format.value, s3_uri=f"s3://{ctx.bucket}/{key}"),
    )
    return AssetDocument(
        asset_id=new_asset_id(),
        status="pending",
        intent=ctx.intent,
        dataset=dataset,
        version=version,
        bucket=ctx.bucket,
        s3_key=key,
        sha256=hashed.sha256,
        size=hashed.size,
        format=product.format.value,
        crs=product.crs,
        bbox_wgs84=bbox,
        feature_count=product.feature_count,
        raster=product.raster,
        columns=list(product.columns),
        run_id=ctx.run_id,
        batch_id=ctx.batch_id,
        plugin=ctx.plugin,
        inputs=list(inputs),
        parameters=ctx.parameters,
        duplicate_of=None,
        iso19115=block,
        provenance=ctx.provenance,
        created_at=ctx.clock(),
        committed_at=None,
    )
