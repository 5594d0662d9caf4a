"""The intake of manifests: what the sensor decides for each one, and how a batch is settled.

Plain Python over the object store and the ledger, so that the Dagster sensor and the local
runner are thin. For each pending manifest (``manifests/<batch>.json`` directly in the landing
zone) :func:`examine` returns one decision:

- :class:`RunTicket` — valid, every file present: request a run (key from the manifest's key
  and ETag, so a re-upload is a new request and the same object never runs twice);
- :class:`Waiting` — valid, but some files are not uploaded yet: ask again later, until the
  grace period (counted from when the batch was first seen, kept in the ledger) runs out;
- :class:`Rejection` — invalid, unknown intent, batch id taken, or files still missing after
  the grace period: a JSON report is written beside the manifest in ``manifests/rejected/``,
  the manifest is moved there, and the ledger records the rejection.

After a run, :func:`settle` moves the manifest to ``manifests/processed/`` or
``manifests/failed/`` (with a report), so listing cost follows the pending work only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from pydantic import BaseModel, ConfigDict

from spatial_etl.errors import DuplicateBatchError, StaleManifestError
from spatial_etl.executor import Platform, RunReport, execute_run
from spatial_etl.ledger import Ledger
from spatial_etl.models.landing import MANIFESTS_PREFIX
from spatial_etl.models.ledger import BatchDocument
from spatial_etl.models.manifest import Manifest, parse_json_object
from spatial_etl.models.problems import Problem
from spatial_etl.registry import PluginInfo
from spatial_etl.storage import ObjectStore
from spatial_etl.validation import ManifestReport, check_manifest

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


Decision = RunTicket | Waiting | Rejection


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
        found.append(ManifestRef(key=item.key, etag=item.etag, last_modified=item.last_modified))
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
) -> Decision:
    """Decide what to do with one pending manifest (see the module docstring).

    ``is_run_alive`` (the orchestrator's view of a run id) lets a re-uploaded manifest retry a
    batch whose run died without settling it (a killed process): that batch is marked failed
    first. Without it, a batch still recorded as running keeps its id.
    """
    store, bucket = platform.store, platform.store.settings.landing_bucket
    data, stored = store.get_bytes(bucket, ref.key)
    ref = ManifestRef(key=ref.key, etag=stored.etag, last_modified=stored.last_modified)
    report = check_manifest(data, source=ref.name, catalog=platform.catalog)
    raw, _ = parse_json_object(data)
    batch = _batch(ref, stored.sha256 or "", report, raw, clock())
    if not report.valid:
        return reject(ref, report, platform, batch)
    manifest = Manifest.from_json(data, name=ref.name)
    if is_run_alive is not None:
        _release_dead_batch(platform.ledger, ref, manifest.batch_id, is_run_alive)
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
            now=clock(),
        )
    assert report.plugin is not None  # noqa: S101 - a valid report names its plugin
    return RunTicket(ref=ref, manifest=manifest, plugin=report.plugin)


def reject(
    ref: ManifestRef,
    report: ManifestReport,
    platform: Platform,
    batch: BatchDocument | None,
) -> Rejection:
    """Write the report beside the manifest in ``rejected/``, record it, move the manifest."""
    store, bucket = platform.store, platform.store.settings.landing_bucket
    report_key = f"{REJECTED}{ref.stem}.report.json"
    document = {
        "status": "rejected",
        "manifest_key": ref.key,
        "manifest_etag": ref.etag,
        "moved_to": f"{REJECTED}{ref.name}",
        **report.model_dump(mode="json"),
    }
    body = json.dumps(document, indent=2).encode()
    store.put_bytes(bucket, report_key, body, metadata={}, content_type="application/json")
    _record_rejection(platform.ledger, ref, report, batch)
    store.move(bucket, ref.key, f"{REJECTED}{ref.name}")
    logger.warning("rejected %s: %s", ref.key, "; ".join(str(p) for p in report.problems))
    return Rejection(ref=ref, report_key=report_key, problems=tuple(report.problems))


def settle(ref: ManifestRef, report: RunReport, platform: Platform) -> str:
    """Move a run's manifest out of the pending listing; return where it went.

    A failed run also leaves ``failed/<batch>.report.json`` saying why, for the uploader.
    """
    store, bucket = platform.store, platform.store.settings.landing_bucket
    target = PROCESSED if report.status == "succeeded" else FAILED
    if report.status == "failed":
        body = json.dumps({"manifest_key": ref.key, **report.model_dump(mode="json")}, indent=2)
        store.put_bytes(
            bucket,
            f"{FAILED}{ref.stem}.report.json",
            body.encode(),
            metadata={},
            content_type="application/json",
        )
    store.move(bucket, ref.key, f"{target}{ref.name}")
    platform.ledger.update_batch_status(report.batch_id, report.status)
    return f"{target}{ref.name}"


def run_batch(ref: ManifestRef, run_id: str, platform: Platform) -> RunReport:
    """Run the manifest a ticket named: the very version examined, then settle the batch.

    A manifest replaced since its ticket was issued is not run: the new version gets a ticket
    of its own, and running the old one would run what nobody asked for any more.
    """
    data, stored = platform.store.get_bytes(platform.store.settings.landing_bucket, ref.key)
    if stored.etag != ref.etag:
        raise StaleManifestError(
            f"{ref.key} changed since it was examined (ETag {ref.etag} -> {stored.etag}); "
            "the new version runs separately"
        )
    manifest = Manifest.from_json(data, name=ref.name)
    platform.ledger.update_batch_status(manifest.batch_id, "running", run_id=run_id)
    report = execute_run(run_id, manifest, platform)
    settle(ref, report, platform)
    return report


def _release_dead_batch(
    ledger: Ledger, ref: ManifestRef, batch_id: str, is_run_alive: Callable[[str], bool]
) -> None:
    """Mark failed a batch left running by runs that are gone, when a new manifest replaces it."""
    existing = ledger.get_batch(batch_id)
    if existing is None or existing.status != "running":
        return
    if (existing.manifest_key, existing.manifest_etag) == (ref.key, ref.etag):
        return  # the same object: its run may still be queued or running
    if any(is_run_alive(run_id) for run_id in existing.run_ids):
        return
    logger.warning(
        "batch %s was left running by dead runs %s; failing it", batch_id, existing.run_ids
    )
    ledger.update_batch_status(batch_id, "failed")


def _missing_files(store: ObjectStore, manifest: Manifest) -> list[tuple[int, str]]:
    bucket = store.settings.landing_bucket
    return [
        (index, item.path)
        for index, item in enumerate(manifest.files)
        if store.head(bucket, item.landing.key) is None
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
    sha256: str,
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
    "ManifestRef",
    "Rejection",
    "RunTicket",
    "Waiting",
    "examine",
    "pending_manifests",
    "reject",
    "run_batch",
    "settle",
]
