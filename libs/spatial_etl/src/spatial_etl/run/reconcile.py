"""The reconciler: bring the ledger, the lake, PostGIS and the disk back to the truth.

A run can die anywhere — SIGKILL, an out-of-memory kill, a node lost — and then no ``finally``
runs. Each pass of :func:`reconcile` (a Dagster sensor, the local runner at start-up) looks at
what dead runs left and finishes it, using the orchestrator's word on which runs are alive:

1. runs recorded ``running`` whose run is not alive are failed ("the run's process died");
2. batches ``running`` whose lease holder is not alive are settled from the ledger's record:
   failed (or succeeded, if the run had finished), the manifest moved to ``failed/`` with a
   report, so the uploader can re-upload; batches ``received`` whose manifest is no longer
   pending (settled by a run that could not reach the ledger) are failed;
3. ``pending`` asset documents of dead runs are resolved: committed when the data object and
   every sidecar the document lists are in the lake, name this document and carry the recorded
   sha256 and size (S3 writes an object whole, and the hashes were computed before the
   upload), else the objects that are this document's are deleted and the document failed:
   never a lake object without a committed document;
4. committed versions not yet in their STAC Collection (their run died or failed to write it
   after the commit) get their dataset's Collection and the Catalog rewritten;
5. ``proc_`` schemas of dead runs are dropped (by run status, not by age);
6. work directories of dead runs are removed.

Every step is idempotent and guarded: an error is recorded in the report and the other steps
still run; the next pass tries again.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from spatial_etl.models.ledger import AssetDocument, BatchDocument, RunError
from spatial_etl.run import catalogue
from spatial_etl.run.executor import Platform
from spatial_etl.run.intake import ManifestRef, settle_recorded
from spatial_etl.run.workdirs import process_exists, remove_dead_workdirs

logger = logging.getLogger(__name__)

PROCESS_DIED = "ProcessDied"
"""``RunError.type`` of a run the reconciler failed because its process was gone."""


class ReconcileReport(BaseModel):
    """What one pass changed, and what it could not do."""

    failed_runs: list[str] = Field(default_factory=list)
    settled_batches: list[str] = Field(default_factory=list)
    committed_assets: list[str] = Field(default_factory=list)
    failed_assets: list[str] = Field(default_factory=list)
    catalogued_datasets: list[str] = Field(default_factory=list)
    dropped_schemas: list[str] = Field(default_factory=list)
    removed_workdirs: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the pass fixed anything."""
        return any(
            (
                self.failed_runs,
                self.settled_batches,
                self.committed_assets,
                self.failed_assets,
                self.catalogued_datasets,
                self.dropped_schemas,
                self.removed_workdirs,
            )
        )

    def summary(self) -> str:
        """One line for a log or a sensor's skip reason."""
        parts = [
            f"{len(values)} {label}"
            for label, values in (
                ("runs failed", self.failed_runs),
                ("batches settled", self.settled_batches),
                ("assets committed", self.committed_assets),
                ("assets failed", self.failed_assets),
                ("collections rewritten", self.catalogued_datasets),
                ("schemas dropped", self.dropped_schemas),
                ("work directories removed", self.removed_workdirs),
                ("errors", self.errors),
            )
            if values
        ]
        return "reconciled: " + (", ".join(parts) if parts else "nothing to do")


def reconcile(
    platform: Platform,
    *,
    is_run_alive: Callable[[str], bool],
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReconcileReport:
    """One pass over what dead runs left behind (see the module docstring); never raises."""
    report = ReconcileReport()
    is_run_alive = _Liveness(platform, is_run_alive)
    steps: tuple[tuple[str, Callable[[], None]], ...] = (
        ("runs", lambda: _fail_dead_runs(platform, is_run_alive, report)),
        ("batches", lambda: _settle_dead_batches(platform, is_run_alive, report)),
        ("received", lambda: _fail_withdrawn_batches(platform, report)),
        ("assets", lambda: _resolve_pending_assets(platform, is_run_alive, report, clock)),
        ("catalogue", lambda: _catch_up_catalogue(platform, is_run_alive, report)),
        ("schemas", lambda: _drop_dead_schemas(platform, is_run_alive, report)),
        ("workdirs", lambda: _remove_workdirs(platform, is_run_alive, report)),
    )
    for name, step in steps:
        try:
            step()
        except Exception as error:  # noqa: BLE001 - one step's failure must not stop the others
            logger.warning("reconcile %s: %s: %s", name, type(error).__name__, error)
            report.errors.append(f"{name}: {type(error).__name__}: {error}")
    if report.changed or report.errors:
        logger.info("%s", report.summary())
    return report


class _Liveness:
    """The orchestrator's word on a run, corrected by what this host can see.

    A run whose recorded process lived on this host and no longer exists is dead whatever the
    orchestrator says: Dagster's default launcher cannot tell a SIGKILLed run worker from a
    slow one, and would show the run as started until its maximum runtime. Answers are cached
    for one pass.
    """

    def __init__(self, platform: Platform, orchestrator: Callable[[str], bool]) -> None:
        self._ledger = platform.ledger
        self._orchestrator = orchestrator
        self._host = socket.gethostname()
        self._known: dict[str, bool] = {}

    def __call__(self, run_id: str) -> bool:
        if run_id not in self._known:
            self._known[run_id] = self._orchestrator(run_id) and not self._worker_gone(run_id)
        return self._known[run_id]

    def _worker_gone(self, run_id: str) -> bool:
        run = self._ledger.get_run(run_id)
        if run is None or run.worker is None or run.worker.host != self._host:
            return False
        return not process_exists(run.worker.pid)


def _fail_dead_runs(
    platform: Platform, is_run_alive: Callable[[str], bool], report: ReconcileReport
) -> None:
    for run in platform.ledger.running_runs():
        if is_run_alive(run.run_id):
            continue
        _fail_run(platform, run.run_id, report)


def _fail_run(platform: Platform, run_id: str, report: ReconcileReport) -> None:
    error = RunError(
        message="the run's process died before the run finished (killed, crashed, or lost by "
        "the orchestrator); nothing it left half-done was kept. Re-upload the manifest to retry",
        type=PROCESS_DIED,
    )
    try:
        platform.ledger.finish_run(run_id, "failed", error=error)
    except Exception as failure:  # noqa: BLE001 - collected; the next pass retries
        report.errors.append(f"run {run_id}: {failure}")
        return
    report.failed_runs.append(run_id)


def _settle_dead_batches(
    platform: Platform, is_run_alive: Callable[[str], bool], report: ReconcileReport
) -> None:
    ledger = platform.ledger
    for batch in ledger.batches_in("running"):
        holder = (
            batch.lease.run_id if batch.lease else (batch.run_ids[-1] if batch.run_ids else None)
        )
        if holder is not None and is_run_alive(holder):
            continue
        try:
            _settle_batch(platform, batch, holder, report)
        except Exception as error:  # noqa: BLE001 - collected; the next pass retries
            report.errors.append(f"batch {batch.batch_id}: {type(error).__name__}: {error}")


def _settle_batch(
    platform: Platform, batch: BatchDocument, holder: str | None, report: ReconcileReport
) -> None:
    ledger = platform.ledger
    run = ledger.get_run(holder) if holder is not None else None
    if run is not None and run.status == "running":
        _fail_run(platform, run.run_id, report)
        run = ledger.get_run(run.run_id)
    status: Literal["succeeded", "failed"] = (
        "succeeded" if run is not None and run.status == "succeeded" else "failed"
    )
    if batch.lease is not None:
        ended = ledger.release_batch(batch.batch_id, batch.lease.run_id, status)
    else:
        ended = ledger.update_batch_status(batch.batch_id, status)
    report.settled_batches.append(batch.batch_id)
    ref = ManifestRef(
        key=batch.manifest_key, etag=batch.manifest_etag, last_modified=batch.manifest_modified
    )
    settle_recorded(ref, ended, platform)


def _fail_withdrawn_batches(platform: Platform, report: ReconcileReport) -> None:
    """Fail ``received`` batches whose manifest is no longer pending.

    A run that could not reach the ledger at all still settles its manifest in the landing
    zone (report and move); its batch stays ``received`` in the ledger until this step sees
    the manifest gone. A manifest replaced by a new upload (another ETag) is left to the
    intake, which records the new version.
    """
    store, ledger = platform.store, platform.ledger
    bucket = store.settings.landing_bucket
    for batch in ledger.batches_in("received"):
        if store.head(bucket, batch.manifest_key) is not None:
            continue
        try:
            ledger.update_batch_status(batch.batch_id, "failed")
        except Exception as error:  # noqa: BLE001 - collected; the next pass retries
            report.errors.append(f"batch {batch.batch_id}: {type(error).__name__}: {error}")
            continue
        report.settled_batches.append(batch.batch_id)


def _resolve_pending_assets(
    platform: Platform,
    is_run_alive: Callable[[str], bool],
    report: ReconcileReport,
    clock: Callable[[], datetime],
) -> None:
    for asset in platform.ledger.pending_assets():
        if is_run_alive(asset.run_id):
            continue
        try:
            _resolve_asset(platform, asset, report, clock)
        except Exception as error:  # noqa: BLE001 - collected; the next pass retries
            report.errors.append(f"asset {asset.asset_id}: {type(error).__name__}: {error}")


def _resolve_asset(
    platform: Platform,
    asset: AssetDocument,
    report: ReconcileReport,
    clock: Callable[[], datetime],
) -> None:
    store, ledger = platform.store, platform.ledger
    expected = {asset.s3_key: (asset.sha256, asset.size)} | {
        item.key: (item.sha256, item.size) for item in asset.sidecars
    }
    heads = {key: store.head(asset.bucket, key) for key in expected}
    ours = {
        key: head
        for key, head in heads.items()
        if head is not None and head.metadata.get("mongodb_doc_id") == asset.asset_id
    }
    whole = all(
        key in ours and (ours[key].content_hash, ours[key].size) == expected[key]
        for key in expected
    )
    if whole:
        ledger.commit_asset(asset.asset_id, clock())
        ledger.add_run_output(asset.run_id, asset.asset_id)
        report.committed_assets.append(asset.asset_id)
        return
    for key in ours:
        store.delete(asset.bucket, key)
    reason = (
        "the run died during its upload; what it had uploaded did not match and was deleted"
        if ours
        else "the run died before its object was uploaded"
    )
    ledger.fail_asset(asset.asset_id, f"reconciler: {reason}")
    report.failed_assets.append(asset.asset_id)


def _catch_up_catalogue(
    platform: Platform, is_run_alive: Callable[[str], bool], report: ReconcileReport
) -> None:
    done, errors = catalogue.catch_up(platform.store, platform.ledger, is_run_alive)
    report.catalogued_datasets.extend(done)
    report.errors.extend(errors)


def _drop_dead_schemas(
    platform: Platform, is_run_alive: Callable[[str], bool], report: ReconcileReport
) -> None:
    if platform.compute is None:
        return
    orphans = platform.compute.drop_orphans(is_run_alive)
    report.dropped_schemas.extend(orphans.dropped)
    report.errors.extend(f"schema: {error}" for error in orphans.errors)


def _remove_workdirs(
    platform: Platform, is_run_alive: Callable[[str], bool], report: ReconcileReport
) -> None:
    removed, errors = remove_dead_workdirs(platform.workdir, is_run_alive)
    report.removed_workdirs.extend(removed)
    report.errors.extend(errors)


__all__ = ["PROCESS_DIED", "ReconcileReport", "reconcile"]
