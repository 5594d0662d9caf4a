"""The manifest sensor: each tick, examine a bounded page of pending manifests.

A thin adapter over :mod:`spatial_etl.run.intake`. The cursor records where the listing stopped,
so a tick examines at most ``SPATIAL_ETL_SENSOR_MAX_MANIFESTS_PER_TICK`` manifests and the next
tick continues after them; when the listing is exhausted the cursor wraps to the start. A
restart resumes from the cursor. Nothing is lost: a manifest leaves the pending listing only
when it is rejected (with its report) or its run has settled it; and nothing runs twice: the run
key is the manifest's key, ETag and modification time.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at runtime.
import json

import dagster as dg
from dagster._core.storage.tags import RUN_KEY_TAG
from spatial_etl.backends.outages import is_outage
from spatial_etl.errors import ConfigurationError
from spatial_etl.run.executor import Platform
from spatial_etl.run.intake import (
    Deferred,
    Rejection,
    RunTicket,
    Settled,
    Waiting,
    examine,
    fail_unstarted,
    pending_manifests,
)
from spatial_etl.run.reconcile import reconcile
from spatial_etl.settings import IntakeSettings

from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.platform import open_platform
from spatial_etl_dagster.reject import reject_manifest, rejection_request
from spatial_etl_dagster.resources import (
    GDALResource,
    IntakeResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)


def _cursor(raw: str | None) -> str | None:
    if not raw:
        return None
    after = json.loads(raw).get("after")
    return after if isinstance(after, str) else None


@dg.sensor(
    jobs=[ingest_job, reject_manifest],
    minimum_interval_seconds=30,
    description="Request a run for each committed manifest in s3://landing-zone/manifests/ "
    "(ingest_job), and one of reject_manifest for each manifest it rejects.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def manifest_sensor(
    context: dg.SensorEvaluationContext,
    gdal: GDALResource,
    minio: MinIOResource,
    ledger: LedgerResource,
    intake: IntakeResource,
) -> dg.SensorResult | dg.SkipReason:
    """Examine the next page of pending manifests; request runs, write and show rejections.

    One manifest's problem never stops the others (``examine`` decides for each and never
    raises); an outage of the store while listing skips the tick with the reason, and so does
    a missing or invalid setting (one line naming the variable).
    """
    try:
        settings = intake.settings()
        with open_platform(gdal, minio, ledger) as platform:
            return _examine_page(context, platform, settings)
    except ConfigurationError as error:
        return dg.SkipReason(str(error))


def _examine_page(
    context: dg.SensorEvaluationContext, platform: Platform, settings: IntakeSettings
) -> dg.SensorResult | dg.SkipReason:
    """One page of the listing, each manifest decided; the cursor continues after it."""
    limit = settings.sensor_max_manifests_per_tick
    try:
        refs = pending_manifests(platform.store, start_after=_cursor(context.cursor), limit=limit)
    except Exception as error:
        if not is_outage(error):
            raise
        return dg.SkipReason(f"the landing zone cannot be listed: {error}")
    requests: list[dg.RunRequest] = []
    for ref in refs:
        decision = examine(
            ref,
            platform,
            grace_period_s=settings.manifest_grace_period_s,
            is_run_alive=lambda run_id: _alive(context, run_id),
            max_bytes=settings.manifest_max_bytes,
            max_files=settings.manifest_max_files,
        )
        if isinstance(decision, RunTicket):
            ended = _ended_runs(context, decision.ref.run_key)
            if ended:
                reason = (
                    f"its run {ended[0]} ended without starting the batch (killed or lost "
                    "while starting); re-upload the manifest to retry"
                )
                fail_unstarted(decision.ref, platform, reason=reason)
                context.log.warning(f"{ref.key}: {reason}")
            else:
                requests.append(_request(decision))
        elif isinstance(decision, Rejection):
            context.log.warning(f"rejected {ref.key}: report at {decision.report_key}")
            bucket = platform.store.settings.landing_bucket
            requests.append(rejection_request(decision, bucket))
        elif isinstance(decision, Waiting):
            context.log.info(f"{ref.key} waits for {len(decision.missing)} file(s)")
        elif isinstance(decision, Deferred):
            context.log.info(f"{ref.key} deferred: {decision.reason}")
        elif isinstance(decision, Settled):
            context.log.info(f"{ref.key} settled from the ledger: {decision.moved_to}")
    after = refs[-1].key if len(refs) == limit else None
    return dg.SensorResult(run_requests=requests, cursor=json.dumps({"after": after}))


@dg.sensor(
    minimum_interval_seconds=60,
    description="Finish what dead runs left: fail their runs and batches (manifest to failed/ "
    "with a report), resolve pending assets, drop proc_ schemas, remove work directories.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def reconcile_sensor(
    context: dg.SensorEvaluationContext,
    gdal: GDALResource,
    minio: MinIOResource,
    ledger: LedgerResource,
    postgis: PostGISResource,
) -> dg.SkipReason:
    """One reconciler pass (``spatial_etl.run.reconcile``); it requests no run."""
    try:
        with open_platform(gdal, minio, ledger, postgis) as platform:
            report = reconcile(platform, is_run_alive=lambda run_id: _alive(context, run_id))
    except ConfigurationError as problem:
        return dg.SkipReason(str(problem))
    for error in report.errors:
        context.log.warning(error)
    _tell_dagster(context, report.failed_runs)
    return dg.SkipReason(report.summary())


def _tell_dagster(context: dg.SensorEvaluationContext, run_ids: list[str]) -> None:
    """Mark failed in Dagster the runs the reconciler found dead that Dagster still shows.

    Dagster's default launcher cannot see a run worker killed with SIGKILL (the run would
    show as started until its maximum runtime); the reconciler sees that its process is gone.
    """
    for run_id in run_ids:
        run = context.instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            context.instance.report_run_failed(
                run, message="the run's process died; the reconcile sensor failed the run"
            )


def _ended_runs(context: dg.SensorEvaluationContext, run_key: str) -> list[str]:
    """Finished runs Dagster already launched for this run key (it will not launch another).

    Empty when a run is still queued or going, or when the sensor runs without an instance
    (the tests' and the local runner's evaluations).
    """
    try:
        instance = context.instance
    except dg.DagsterInvariantViolationError:
        return []
    runs = instance.get_runs(filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key}))
    if not runs or not all(run.is_finished for run in runs):
        return []
    return [run.run_id for run in runs]


def _alive(context: dg.SensorEvaluationContext, run_id: str) -> bool:
    """Whether Dagster still has the run queued or running.

    A killed run is finished once run monitoring notices; a run Dagster does not know is not
    alive (the ledger only records runs Dagster started).
    """
    run = context.instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished


def _request(ticket: RunTicket) -> dg.RunRequest:
    ref = ticket.ref
    config = {
        "key": ref.key,
        "etag": ref.etag,
        "last_modified": ref.last_modified.isoformat() if ref.last_modified else None,
    }
    return dg.RunRequest(
        run_key=ref.run_key,
        job_name=ingest_job.name,
        run_config={"ops": {"ingest_manifest": {"config": config}}},
        tags=ticket.tags,
    )
