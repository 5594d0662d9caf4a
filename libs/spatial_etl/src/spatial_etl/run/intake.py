"""The intake of manifests: what the sensor decides for each one, and how a batch is settled.

Plain Python over the object store and the ledger, so that the Dagster sensor and the local
runner are thin. For each pending manifest (``manifests/<batch>.json`` directly in the landing
zone) :func:`examine` returns one decision:

- :class:`RunTicket` — valid, every file present: request a run (key from the manifest's key
  and ETag, so a re-upload is a new request and the same object never runs twice);
- :class:`Waiting` — valid, but some files are not uploaded yet: ask again later, until the
  grace period (counted from when the batch was first seen, kept in the ledger) runs out;
- :class:`Rejection` — invalid, unreadable, too large, unknown intent, batch id taken, or
  files still missing after the grace period: a JSON report is written beside the manifest in
  ``manifests/rejected/``, the manifest is moved there, and the ledger records the rejection;
- :class:`Deferred` — not now: its batch is being processed by a live run, or a service is
  unreachable; the next tick looks again;
- :class:`Settled` — its batch already ended (a crash came between the ledger's record and the
  manifest's move): the manifest is moved where the record says.

:func:`examine` never raises: one manifest's problem is that manifest's only. After a run,
:func:`settle` moves the manifest to ``manifests/processed/`` or ``manifests/failed/`` (with a
report), so listing cost follows the pending work only. Every step is idempotent and keyed on
the manifest's ETag, so a crash anywhere is finished by the next tick or the reconciler.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from spatial_etl.backends.ledger import Ledger
from spatial_etl.backends.outages import is_outage
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.errors import (
    DuplicateBatchError,
    LedgerError,
    ObjectNotFoundError,
    ObjectTooLargeError,
    SettleError,
    StaleManifestError,
)
from spatial_etl.models.landing import MANIFESTS_PREFIX
from spatial_etl.models.ledger import BatchDocument, RunError
from spatial_etl.models.manifest import Manifest
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.models.problems import Problem
from spatial_etl.run.executor import Platform, RunReport, execute_run
from spatial_etl.run.step_events import StepCallback
from spatial_etl.run.validation import MAX_FILES, ManifestReport, parse_and_check

PENDING: Final = f"{MANIFESTS_PREFIX}/"
PROCESSED: Final = f"{MANIFESTS_PREFIX}/processed/"
REJECTED: Final = f"{MANIFESTS_PREFIX}/rejected/"
FAILED: Final = f"{MANIFESTS_PREFIX}/failed/"

logger = logging.getLogger(__name__)


class ManifestRef(BaseModel):
    """One manifest object as listed: its key and the ETag of the version seen."""

    model_config = ConfigDict(frozen=True)

    key: str
    etag: str
    last_modified: datetime | None = None
    size: int | None = None

    @property
    def name(self) -> str:
        """The file name, e.g. ``batch_XYZ.json``."""
        return self.key.rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        """The name without ``.json``: the batch id, for a valid manifest."""
        return self.name.removesuffix(".json")

    @property
    def run_key(self) -> str:
        """Dagster run key: the same object never runs twice, a re-upload is a new request.

        The ETag alone would not do: re-uploading identical bytes (a retry after a failure)
        keeps the ETag, but gets a new modification time.
        """
        stamp = self.last_modified.isoformat() if self.last_modified else "-"
        return f"{self.key}@{self.etag}@{stamp}"


class RunTicket(BaseModel):
    """A manifest ready to run."""

    model_config = ConfigDict(frozen=True)

    ref: ManifestRef
    manifest: Manifest
    plugin: PluginInfo

    @property
    def tags(self) -> dict[str, str]:
        """Run tags: batch, intent, plugin and uploader, for filtering runs in the UI."""
        return {
            "spatial_etl/batch_id": self.manifest.batch_id,
            "spatial_etl/intent": self.manifest.intent,
            "spatial_etl/plugin": f"{self.plugin.distribution or self.plugin.name}=="
            f"{self.plugin.version or 'unknown'}",
            "spatial_etl/uploader": self.manifest.uploader,
        }


class Waiting(BaseModel):
    """A valid manifest whose files are not all uploaded yet."""

    model_config = ConfigDict(frozen=True)

    ref: ManifestRef
    missing: tuple[str, ...]
    deadline: datetime


class Rejection(BaseModel):
    """A manifest that will not run, and where its report is."""

    model_config = ConfigDict(frozen=True)

    ref: ManifestRef
    report_key: str
    problems: tuple[Problem, ...]


class Deferred(BaseModel):
    """A manifest to look at again on a later tick: its batch is busy, or a service is down."""

    model_config = ConfigDict(frozen=True)

    ref: ManifestRef
    reason: str


class Settled(BaseModel):
    """A manifest whose batch had already ended, now moved where its record says."""

    model_config = ConfigDict(frozen=True)

    ref: ManifestRef
    moved_to: str


Decision = RunTicket | Waiting | Rejection | Deferred | Settled


def pending_manifests(
    store: ObjectStore, *, start_after: str | None = None, limit: int | None = None
) -> list[ManifestRef]:
    """Manifests waiting directly in ``manifests/``, in key order, at most ``limit``."""
    found: list[ManifestRef] = []
    listing = store.iter_objects(
        store.settings.landing_bucket, PENDING, start_after=start_after, recursive=False
    )
    for item in listing:
        if not item.key.endswith(".json"):
            continue
        found.append(
            ManifestRef(
                key=item.key, etag=item.etag, last_modified=item.last_modified, size=item.size
            )
        )
        if limit is not None and len(found) >= limit:
            break
    return found


def examine(
    ref: ManifestRef,
    platform: Platform,
    *,
    grace_period_s: float,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    is_run_alive: Callable[[str], bool] | None = None,
    max_bytes: int = 1 << 20,
    max_files: int = MAX_FILES,
) -> Decision:
    """Decide what to do with one pending manifest (see the module docstring); never raises.

    ``is_run_alive`` (the orchestrator's view of a run id) lets a re-uploaded manifest retry a
    batch whose run died without settling it (a killed process): that batch is marked failed
    first. Without it, a batch still recorded as running keeps its id. A manifest larger than
    ``max_bytes`` is rejected unread; one listing more than ``max_files`` files is rejected.
    An outage defers the manifest; any other error rejects it with the error in its report.
    """
    try:
        return _examine(
            ref,
            platform,
            grace_period_s=grace_period_s,
            now=clock(),
            is_run_alive=is_run_alive,
            max_bytes=max_bytes,
            max_files=max_files,
        )
    except Exception as error:
        if is_outage(error):
            logger.warning("examining %s deferred: %s", ref.key, error)
            return Deferred(ref=ref, reason=f"{type(error).__name__}: {error}")
        logger.exception("examining %s failed; rejecting it", ref.key)
        return _reject_unexaminable(ref, error, platform)


def _examine(  # noqa: PLR0911 - one return per decision
    ref: ManifestRef,
    platform: Platform,
    *,
    grace_period_s: float,
    now: datetime,
    is_run_alive: Callable[[str], bool] | None,
    max_bytes: int,
    max_files: int,
) -> Decision:
    store, bucket = platform.store, platform.store.settings.landing_bucket
    if ref.size is not None and ref.size > max_bytes:
        return _reject_too_large(ref, ref.size, max_bytes, platform, now)
    try:
        data, stored = store.get_bytes(bucket, ref.key, max_size=max_bytes)
    except ObjectTooLargeError:
        return _reject_too_large(ref, ref.size, max_bytes, platform, now)
    except ObjectNotFoundError:
        return Deferred(ref=ref, reason="the manifest was removed since it was listed")
    ref = ManifestRef(
        key=ref.key, etag=stored.etag, last_modified=stored.last_modified, size=stored.size
    )
    check = parse_and_check(data, source=ref.name, catalog=platform.catalog, max_files=max_files)
    report = check.report
    batch = _batch(ref, stored.sha256, report, check.raw, now)
    recorded = platform.ledger.get_batch(batch.batch_id)
    if recorded is not None and _same_object(recorded, ref):
        if recorded.status in ("succeeded", "failed", "rejected"):
            return settle_recorded(ref, recorded, platform)
        if recorded.status == "running":
            return _busy(ref, recorded)
    manifest = check.manifest
    if manifest is None:
        return reject(ref, report, platform, batch)
    if is_run_alive is not None:
        recorded = _release_dead_batch(platform.ledger, ref, recorded, is_run_alive) or recorded
    if recorded is not None and recorded.status == "running":
        return _busy(ref, recorded)
    try:
        platform.ledger.record_batch(batch)
    except DuplicateBatchError as error:
        taken = Problem(loc="batch_id", code="batch_id_taken", message=str(error))
        return reject(
            ref, report.model_copy(update={"valid": False, "problems": [taken]}), platform, None
        )
    missing = _missing_files(store, manifest)
    if missing:
        return _wait_or_reject(
            ref,
            manifest,
            missing,
            report=report,
            platform=platform,
            grace_period_s=grace_period_s,
            now=now,
        )
    assert report.plugin is not None  # noqa: S101 - a valid report names its plugin
    return RunTicket(ref=ref, manifest=manifest, plugin=report.plugin)


def _same_object(batch: BatchDocument, ref: ManifestRef) -> bool:
    """Whether the batch was recorded from this very upload (not a re-upload of it)."""
    return (batch.manifest_key, batch.manifest_etag) == (ref.key, ref.etag) and (
        batch.manifest_modified is None
        or ref.last_modified is None
        or batch.manifest_modified == _millis(ref.last_modified)
    )


def _millis(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _busy(ref: ManifestRef, batch: BatchDocument) -> Deferred:
    holder = batch.lease.run_id if batch.lease else ", ".join(batch.run_ids) or "a run"
    return Deferred(
        ref=ref,
        reason=f"batch {batch.batch_id} is being processed by run {holder}; "
        "this manifest waits until that run ends",
    )


def _reject_too_large(
    ref: ManifestRef, size: int | None, limit: int, platform: Platform, now: datetime
) -> Decision:
    shown = f"{size} bytes" if size is not None else "larger than allowed"
    problem = Problem(
        loc="",
        code="too_large",
        message=f"the manifest is {shown}, more than the {limit} bytes allowed "
        "(SPATIAL_ETL_MANIFEST_MAX_BYTES); it was not read",
    )
    report = ManifestReport(source=ref.name, valid=False, problems=[problem])
    return reject(ref, report, platform, _batch(ref, None, report, None, now))


def _reject_unexaminable(ref: ManifestRef, error: Exception, platform: Platform) -> Decision:
    """Set aside a manifest the platform failed on, with the error in its report."""
    problem = Problem(
        loc="",
        code="internal_error",
        message=f"the platform could not examine this manifest ({type(error).__name__}: "
        f"{error}); it was set aside so that other manifests proceed. Re-upload it; report "
        "the error if it happens again",
    )
    report = ManifestReport(source=ref.name, valid=False, problems=[problem])
    try:
        return reject(ref, report, platform, None)
    except Exception as second:  # noqa: BLE001 - nothing more to do this tick
        logger.error("could not reject %s either: %s", ref.key, second)
        return Deferred(ref=ref, reason=f"{type(second).__name__}: {second}")


def reject(
    ref: ManifestRef,
    report: ManifestReport,
    platform: Platform,
    batch: BatchDocument | None,
) -> Rejection:
    """Write the report beside the manifest in ``rejected/``, record it, move the manifest.

    In that order, each step idempotent: a crash in between leaves the manifest pending, and
    the next tick finds its batch recorded as rejected and only moves it.
    """
    store, bucket = platform.store, platform.store.settings.landing_bucket
    report_key = f"{REJECTED}{ref.stem}.report.json"
    document = {
        "status": "rejected",
        "manifest_key": ref.key,
        "manifest_etag": ref.etag,
        "moved_to": f"{REJECTED}{ref.name}",
        **report.model_dump(mode="json"),
    }
    _put_json(store, bucket, report_key, document)
    _record_rejection(platform.ledger, ref, report, batch)
    store.move(bucket, ref.key, f"{REJECTED}{ref.name}", etag=ref.etag)
    logger.warning("rejected %s: %s", ref.key, "; ".join(str(p) for p in report.problems))
    return Rejection(ref=ref, report_key=report_key, problems=tuple(report.problems))


def settle(ref: ManifestRef, report: RunReport, platform: Platform) -> str | None:
    """End a run's batch: report, manifest moved out of the pending listing, lease released.

    A failed run also leaves ``failed/<batch>.report.json`` saying why, for the uploader. Each
    step is attempted even if an earlier one failed, and each is idempotent; when any failed,
    :class:`SettleError` lists them, and the next tick (:func:`settle_recorded`) or the
    reconciler finishes. A run refused because another run holds its batch settles nothing:
    the manifest is the holder's. Returns where the manifest went (None when it stayed).
    """
    if report.error is not None and report.error.type == "BatchBusyError":
        return None
    store, bucket = platform.store, platform.store.settings.landing_bucket
    target = f"{PROCESSED if report.status == 'succeeded' else FAILED}{ref.name}"
    problems: list[str] = []
    if report.status == "failed":
        try:
            _put_json(
                store, bucket, f"{FAILED}{ref.stem}.report.json", _failure_report(ref, report)
            )
        except Exception as error:  # noqa: BLE001 - collected, raised below
            problems.append(f"writing the report: {error}")
    moved = False
    try:
        moved = store.move(bucket, ref.key, target, etag=ref.etag)
    except Exception as error:  # noqa: BLE001 - collected, raised below
        problems.append(f"moving the manifest: {error}")
    try:
        platform.ledger.release_batch(report.batch_id, report.run_id, report.status)
    except Exception as error:  # noqa: BLE001 - collected, raised below
        problems.append(f"recording the batch as {report.status}: {error}")
    if problems:
        raise SettleError(f"settling batch {report.batch_id} of {ref.key}: " + "; ".join(problems))
    return target if moved else None


def settle_recorded(ref: ManifestRef, batch: BatchDocument, platform: Platform) -> Settled:
    """Move a manifest whose batch already ended to where the ledger's record says.

    The report beside it is written again from the record (the run's error, or the
    rejection's problems), so the uploader always finds one.
    """
    store, bucket = platform.store, platform.store.settings.landing_bucket
    if batch.status == "succeeded":
        folder = PROCESSED
    elif batch.status == "failed":
        folder = FAILED
        report_key = f"{FAILED}{ref.stem}.report.json"
        existing = store.head(bucket, report_key)
        if existing is None or (
            ref.last_modified
            and existing.last_modified
            and existing.last_modified < ref.last_modified
        ):
            # the run's own report, when it wrote one, says more than the ledger's record
            _put_json(store, bucket, report_key, _recorded_failure(ref, batch, platform))
    else:
        folder = REJECTED
        problems = [problem.model_dump(mode="json") for problem in batch.problems]
        document = {
            "status": "rejected",
            "manifest_key": ref.key,
            "manifest_etag": ref.etag,
            "moved_to": f"{REJECTED}{ref.name}",
            "source": ref.name,
            "valid": False,
            "batch_id": batch.batch_id,
            "intent": batch.intent,
            "problems": problems,
        }
        _put_json(store, bucket, f"{REJECTED}{ref.stem}.report.json", document)
    target = f"{folder}{ref.name}"
    store.move(bucket, ref.key, target, etag=ref.etag)
    logger.info(
        "%s: batch %s was already %s; moved to %s", ref.key, batch.batch_id, batch.status, target
    )
    return Settled(ref=ref, moved_to=target)


def fail_unstarted(ref: ManifestRef, platform: Platform, *, reason: str) -> Settled:
    """Fail a batch whose run ended without ever taking it (killed while starting).

    Such a batch is still ``received`` and its manifest still pending under the same run key,
    which the orchestrator will not run twice: without this it would wait forever. The batch is
    failed with a report beside the manifest, so the uploader can re-upload.
    """
    store, bucket = platform.store, platform.store.settings.landing_bucket
    batch_id = ref.stem
    error = RunError(message=reason, type="RunNotStarted")
    document = {
        "manifest_key": ref.key,
        "batch_id": batch_id,
        "status": "failed",
        "outputs": [],
        "error": error.model_dump(mode="json"),
    }
    _put_json(store, bucket, f"{FAILED}{ref.stem}.report.json", document)
    recorded = platform.ledger.get_batch(batch_id)
    if recorded is not None and recorded.status == "received" and _same_object(recorded, ref):
        platform.ledger.update_batch_status(batch_id, "failed")
    target = f"{FAILED}{ref.name}"
    store.move(bucket, ref.key, target, etag=ref.etag)
    logger.warning("%s: %s; failed with a report", ref.key, reason)
    return Settled(ref=ref, moved_to=target)


def run_batch(
    ref: ManifestRef, run_id: str, platform: Platform, *, on_step: StepCallback | None = None
) -> RunReport:
    """Run the manifest a ticket named: the very version examined, then settle the batch.

    A manifest replaced since its ticket was issued is not run: the new version gets a ticket
    of its own, and running the old one would run what nobody asked for any more. The run holds
    the batch's lease while it executes; a second run of the same batch is recorded as failed
    and changes nothing. Raises only when the manifest cannot be read (the run did nothing) or
    when settling failed (:class:`SettleError`: the reconciler finishes it). ``on_step`` is
    told of each step that ends (:func:`~spatial_etl.run.executor.execute_run`).
    """
    try:
        data, stored = platform.store.get_bytes(platform.store.settings.landing_bucket, ref.key)
    except ObjectNotFoundError:
        raise StaleManifestError(
            f"{ref.key} is no longer pending (it was settled or removed since it was examined)"
        ) from None
    if stored.etag != ref.etag:
        raise StaleManifestError(
            f"{ref.key} changed since it was examined (ETag {ref.etag} -> {stored.etag}); "
            "the new version runs separately"
        )
    manifest = Manifest.from_json(data, name=ref.name)
    report = execute_run(run_id, manifest, platform, lease=True, on_step=on_step)
    settle(ref, report, platform)
    return report


def _failure_report(ref: ManifestRef, report: RunReport) -> dict[str, Any]:
    return {"manifest_key": ref.key, **report.model_dump(mode="json")}


def _recorded_failure(ref: ManifestRef, batch: BatchDocument, platform: Platform) -> dict[str, Any]:
    """The failure report of a batch from its last run's ledger record."""
    last = platform.ledger.get_run(batch.run_ids[-1]) if batch.run_ids else None
    if last is None:
        runs = platform.ledger.runs_of_batch(batch.batch_id)
        last = runs[-1] if runs else None
    error = (
        last.error
        if last is not None and last.error is not None
        else RunError(message="the batch failed; its run left no error record", type="Unknown")
    )
    return {
        "manifest_key": ref.key,
        "run_id": last.run_id if last else None,
        "batch_id": batch.batch_id,
        "intent": batch.intent,
        "status": "failed",
        "outputs": [],
        "error": error.model_dump(mode="json"),
        "timings": dict(last.timings) if last else {},
    }


def _put_json(store: ObjectStore, bucket: str, key: str, document: Mapping[str, Any]) -> None:
    body = json.dumps(document, indent=2).encode()
    store.put_bytes(bucket, key, body, metadata={}, content_type="application/json")


def _release_dead_batch(
    ledger: Ledger,
    ref: ManifestRef,
    existing: BatchDocument | None,
    is_run_alive: Callable[[str], bool],
) -> BatchDocument | None:
    """Fail a batch left running by runs that are gone, when a new manifest replaces it.

    Returns the batch as it now is, or None when nothing changed.
    """
    if existing is None or existing.status != "running":
        return None
    if (existing.manifest_key, existing.manifest_etag) == (ref.key, ref.etag):
        return None  # the same object: its run may still be queued or running
    holders = [existing.lease.run_id] if existing.lease else existing.run_ids
    if any(is_run_alive(run_id) for run_id in holders):
        return None
    logger.warning(
        "batch %s was left running by dead runs %s; failing it", existing.batch_id, holders
    )
    try:
        return ledger.update_batch_status(existing.batch_id, "failed")
    except LedgerError:
        return ledger.get_batch(existing.batch_id)


def _missing_files(store: ObjectStore, manifest: Manifest) -> list[tuple[int, str]]:
    """Files the manifest lists that are not in the landing zone: one listing of the batch.

    Listing ``<batch_id>/`` costs one request per 1,000 keys, where a HEAD per file cost one
    request each (70 s for 8,000 files).
    """
    bucket = store.settings.landing_bucket
    present = {item.key for item in store.iter_objects(bucket, f"{manifest.batch_id}/")}
    return [
        (index, item.path)
        for index, item in enumerate(manifest.files)
        if item.landing.key not in present
    ]


def _wait_or_reject(
    ref: ManifestRef,
    manifest: Manifest,
    missing: Sequence[tuple[int, str]],
    *,
    report: ManifestReport,
    platform: Platform,
    grace_period_s: float,
    now: datetime,
) -> Decision:
    recorded = platform.ledger.get_batch(manifest.batch_id)
    since = recorded.received_at if recorded is not None else now
    deadline = since + timedelta(seconds=grace_period_s)
    if now < deadline:
        return Waiting(ref=ref, missing=tuple(path for _, path in missing), deadline=deadline)
    problems = [
        Problem(
            loc=f"files[{index}].path",
            code="file_missing",
            message=f"{path} is not in the landing zone {grace_period_s:g} s after the manifest "
            "was committed; upload every file before its manifest",
        )
        for index, path in missing
    ]
    failed = report.model_copy(update={"valid": False, "problems": problems})
    return reject(ref, failed, platform, recorded)


def _batch(
    ref: ManifestRef,
    sha256: str | None,
    report: ManifestReport,
    raw: dict[str, Any] | None,
    now: datetime,
) -> BatchDocument:
    uploader = raw.get("uploader") if raw else None
    return BatchDocument(
        batch_id=report.batch_id if report.valid and report.batch_id else ref.stem,
        manifest_key=ref.key,
        manifest_etag=ref.etag,
        manifest_sha256=sha256,
        manifest_modified=ref.last_modified,
        uploader=uploader if isinstance(uploader, str) else None,
        intent=report.intent,
        status="received",
        problems=[],
        received_at=now,
        updated_at=now,
        run_ids=[],
        manifest=json.loads(json.dumps(raw)) if raw is not None else None,
    )


def _record_rejection(
    ledger: Ledger, ref: ManifestRef, report: ManifestReport, batch: BatchDocument | None
) -> None:
    """Record the rejection; a batch id already used by another batch keeps its record."""
    existing = ledger.get_batch(batch.batch_id if batch else ref.stem)
    if existing is not None and (existing.manifest_key, existing.manifest_etag) == (
        ref.key,
        ref.etag,
    ):
        if existing.status == "received":
            ledger.update_batch_status(existing.batch_id, "rejected", problems=report.problems)
        return
    if batch is None:
        return  # the id belongs to another manifest's batch: the report in S3 says why
    rejected = batch.model_copy(update={"status": "rejected", "problems": list(report.problems)})
    try:
        ledger.record_batch(BatchDocument.model_validate(rejected.model_dump(by_alias=True)))
    except DuplicateBatchError:
        logger.warning(
            "batch id %s is taken; rejection of %s recorded in S3 only", ref.stem, ref.key
        )


__all__ = [
    "Decision",
    "Deferred",
    "ManifestRef",
    "Rejection",
    "RunTicket",
    "Settled",
    "Waiting",
    "examine",
    "fail_unstarted",
    "pending_manifests",
    "reject",
    "run_batch",
    "settle",
    "settle_recorded",
]
