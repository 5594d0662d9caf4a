"""The sending half of an upload: the files first, then the manifest, only if all arrived.

Uploading the manifest is what commits the batch, so a failed file leaves the batch
uncommitted and nothing runs; the same upload can simply be sent again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.backends.storage import ObjectStore, StoredObject
from spatial_etl.errors import BatchCommittedError, StorageError
from spatial_etl.uploads.plan import PlannedUpload, UploadPlan


class UploadFailure(BaseModel):
    """A file (or the manifest) that did not reach the store, and why."""

    model_config = ConfigDict(frozen=True)

    key: str
    source: Path | None = Field(description="The local file; None for the manifest.")
    message: str


class UploadResult(BaseModel):
    """What :func:`execute_upload` did. The batch is committed exactly when ``manifest`` is set."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    uploaded: list[StoredObject]
    failures: list[UploadFailure]
    manifest: StoredObject | None = Field(description="The committed manifest; None if not.")
    stale_keys: list[str] = Field(
        description="Objects already under <batch_id>/ that this upload did not write."
    )

    @property
    def committed(self) -> bool:
        """Whether the manifest was uploaded, i.e. the batch will run."""
        return self.manifest is not None


class UploadProgress(Protocol):
    """Told about each file as it is sent, byte by byte (a front end draws a progress bar).

    ``sent`` may be called from the transfer's worker threads, with the bytes of one chunk.
    """

    def started(self, item: PlannedUpload) -> None:
        """``item`` is about to be uploaded."""

    def sent(self, item: PlannedUpload, amount: int) -> None:
        """``amount`` more bytes of ``item`` reached the store."""

    def finished(self, item: PlannedUpload, error: str | None) -> None:
        """``item`` is done: ``error`` is None when it arrived."""


def execute_upload(
    store: ObjectStore,
    plan: UploadPlan,
    *,
    replace: bool = False,
    progress: UploadProgress | None = None,
) -> UploadResult:
    """Upload the plan's files, then its manifest, but only if every file arrived.

    First the landing bucket is listed under ``<batch_id>/`` (which fails early on a missing
    bucket, bad credentials or an unreachable store) and the manifest's key is checked: a
    manifest still there means the batch is committed and maybe running, and uploading
    files under it would change its inputs, so that is refused unless ``replace``. Files go
    up one by one; a failure is recorded and the others still go, so one run reports every
    failure. The manifest goes last, and not at all after a failure.

    Raises:
        StorageError: The landing bucket cannot be listed (nothing was uploaded).
        BatchCommittedError: The batch's manifest exists and ``replace`` is False (nothing
            was uploaded).
    """
    existing = {item.key for item in store.iter_objects(plan.bucket, prefix=f"{plan.batch_id}/")}
    if not replace and store.head(plan.bucket, plan.manifest_key) is not None:
        raise BatchCommittedError(
            f"batch {plan.batch_id!r} is already committed: s3://{plan.bucket}/"
            f"{plan.manifest_key} exists (it may be waiting or running). Upload under a new "
            "batch id, or replace the batch deliberately"
        )
    uploaded: list[StoredObject] = []
    failures: list[UploadFailure] = []
    for item in plan.uploads:
        uploaded_item, error = _send(store, plan.bucket, item, progress)
        if uploaded_item is not None:
            uploaded.append(uploaded_item)
        else:
            failures.append(UploadFailure(key=item.key, source=item.source, message=str(error)))
    manifest: StoredObject | None = None
    if not failures:
        try:
            manifest = store.put_bytes(
                plan.bucket,
                plan.manifest_key,
                plan.manifest_bytes(),
                metadata={},
                content_type="application/json",
            )
        except StorageError as caught:
            failures.append(UploadFailure(key=plan.manifest_key, source=None, message=str(caught)))
    written = {item.key for item in plan.uploads}
    return UploadResult(
        bucket=plan.bucket,
        uploaded=uploaded,
        failures=failures,
        manifest=manifest,
        stale_keys=sorted(existing - written),
    )


def _send(
    store: ObjectStore, bucket: str, item: PlannedUpload, progress: UploadProgress | None
) -> tuple[StoredObject | None, str | None]:
    """Upload one file, telling ``progress``; the stored object, or the failure's message."""
    if progress is not None:
        progress.started(item)

    def sent(amount: int) -> None:
        if progress is not None:
            progress.sent(item, amount)

    stored: StoredObject | None = None
    error: str | None = None
    try:
        stored = store.put_file(bucket, item.key, item.source, metadata={}, progress=sent)
    except (StorageError, OSError) as caught:
        error = str(caught)
    if progress is not None:
        progress.finished(item, error)
    return stored, error
