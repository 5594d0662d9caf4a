"""The local run: upload a landing directory, drive the real sensor and job, say what happened.

:func:`local_run` is the whole command without its output: it checks what the run needs
(:class:`~spatial_etl_dagster.local.embedded.CannotRun` lists everything missing), starts the
embedded services, uploads the batch files and then the manifests (the upload protocol's
order), evaluates ``manifest_sensor`` and executes every run it requests with
``ingest_job.execute_in_process``, then exports the buckets and the ledger to the output
directory (:mod:`spatial_etl_dagster.local.export`). Every service is stopped and removed when
it returns or raises.

Every file is uploaded before any manifest, so a file still missing when the sensor looks is
missing for good: the sensor runs with a grace period of zero and rejects such a manifest at
once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypeVar
from urllib.parse import urlsplit

from spatial_etl.models.landing import LANDING_BUCKET, MANIFESTS_PREFIX
from spatial_etl.models.manifest import parse_json_object
from spatial_etl.settings import GdalSettings

from spatial_etl_dagster.local.embedded import (
    CannotRun,
    find_postgres,
    missing_gdal_programs,
    postgis_version,
    s3_server,
    throwaway_postgis,
)
from spatial_etl_dagster.local.export import MARKER, replaceable
from spatial_etl_dagster.local.s3_process import S3ServerError

if TYPE_CHECKING:
    import dagster as dg
    from spatial_etl.backends.storage import ObjectStore

    from spatial_etl_dagster.local.ledger import InProcessLedgerResource

_T = TypeVar("_T")

LAKE_BUCKET: Final = "data-lake"
MAX_PASSES: Final = 10
"""Most passes over the pending listing; the loop stops once a pass requests nothing new."""
LOCAL_OWNER: Final = "spatial-etl-local"
"""Owner label of the local runner's run schemas: its janitor never drops a deployment's."""
CREDENTIAL: Final = "local"
"""Access key and secret of the embedded S3 server (moto accepts any)."""
SINGLE_PUT_MB: Final = 5 * 1024
"""The embedded store's multipart threshold: S3's largest single PUT, so every object goes up
in one request. moto assembles a multipart upload in memory, several copies of the object at
once (1.1 GiB of server for a 180 MiB object in 8 MiB parts, 0.9 GiB in 64 MiB parts), where
a single PUT costs it about 2.5 times the object (0.45 GiB)."""
NO_POSTGIS: Final = "postgresql://no-postgis-started@127.0.0.1:9/none"
"""The DSN the runs get when no manifest lists a vector file: no run needs PostGIS then, so
no cluster is started (raster runs never connect; this closed port says so if one did)."""
PENDING: Final = f"{MANIFESTS_PREFIX}/"
PROCESSED: Final = f"{MANIFESTS_PREFIX}/processed/"
REJECTED: Final = f"{MANIFESTS_PREFIX}/rejected/"
FAILED: Final = f"{MANIFESTS_PREFIX}/failed/"
"""Where the intake moves a manifest (the values of ``spatial_etl.run.intake``'s constants,
repeated so that reading a landing does not import the run's modules)."""

Status = Literal["succeeded", "failed", "rejected"]


# ----------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Landing:
    """A local mirror of the landing-zone bucket, split in upload order."""

    root: Path
    files: tuple[tuple[str, Path], ...]
    """Every object but the pending manifests (batch files first of all), by key."""
    manifests: tuple[tuple[str, Path], ...]
    """``manifests/*.json``: uploaded last, each commits its batch."""


def scan_landing(root: Path) -> Landing:
    """Read a landing directory; :class:`CannotRun` when it is missing or has no manifests.

    Hidden files and folders (``.DS_Store``, ``.git``) are not part of the mirror.
    """
    if not root.is_dir():
        raise CannotRun([f"LANDING_DIR {root} is not a directory"])
    manifests_dir = root / MANIFESTS_PREFIX
    if not manifests_dir.is_dir():
        problem = (
            f"{root} has no {MANIFESTS_PREFIX}/ folder: LANDING_DIR mirrors the landing-zone "
            "bucket, batch folders plus manifests/<batch_id>.json"
        )
        raise CannotRun([problem])
    files: list[tuple[str, Path]] = []
    manifests: list[tuple[str, Path]] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        key = relative.as_posix()
        pending = relative.parent == Path(MANIFESTS_PREFIX) and path.suffix == ".json"
        (manifests if pending else files).append((key, path))
    if not manifests:
        raise CannotRun([f"{manifests_dir} holds no manifest (*.json): nothing to run"])
    return Landing(root=root, files=tuple(files), manifests=tuple(manifests))


@dataclass(frozen=True)
class Options:
    """What the command line passes to :func:`local_run`."""

    landing_dir: Path
    out_dir: Path
    postgis_dsn: str | None = None
    """A database with PostGIS to use; ``None`` starts a throw-away cluster."""
    pg_bin_dir: Path | None = None
    """Where the PostgreSQL server programs are, for the throw-away cluster."""
    verbose: bool = False
    """The platform's log and Dagster's events on the console too, not only in OUT_DIR/logs."""
    serve_port: int | None = None
    """After the export, serve the web catalogue on 127.0.0.1 at this port (0: a free one)
    until interrupted; ``None``: do not serve."""


# ----------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Outcome:
    """What became of one manifest."""

    manifest: str
    batch_id: str
    intent: str | None
    status: Status
    outputs: tuple[str, ...] = ()
    """Lake objects as paths in the output directory: ``data-lake/<key>``."""
    reason: str | None = None
    run_id: str | None = None


@dataclass
class Result:
    """What :func:`local_run` did."""

    outcomes: list[Outcome]
    out_dir: Path
    services: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    objects: dict[str, int] = field(default_factory=dict)
    """Objects exported, per bucket."""

    @property
    def exit_status(self) -> int:
        """0 when every manifest succeeded, 1 when any was rejected or failed."""
        return 0 if all(o.status == "succeeded" for o in self.outcomes) else 1


class Reporter(Protocol):
    """Where :func:`local_run` tells its progress (the command line draws it with rich)."""

    def note(self, text: str) -> None:
        """A fact worth a line of its own: a service started, a phase finished."""

    def phase(self, text: str, total: int | None = None) -> None:
        """A new phase begins; ``total`` steps when it can be counted."""

    def advance(self, completed: int, text: str | None = None) -> None:
        """The current phase has ``completed`` steps done; optionally, what it does now."""


# ----------------------------------------------------------------------------- the run


def local_run(
    options: Options, reporter: Reporter, *, exported: Callable[[Result], None] | None = None
) -> Result:
    """Check, start the services, upload, drive sensor and job, export; see the module doc.

    With ``options.serve_port``, ``exported`` is told the result once the export is written
    (the command prints its summary then), and the catalogue serves the run's S3 and ledger
    until interrupted (:mod:`.serving`); the services stop afterwards, as after any run.

    The services start first and Dagster loads while they come up: moto imports itself in its
    own process and ``initdb`` runs in a thread (mostly waiting on its child), so on two cores
    the start-up costs about the longest of them rather than their sum. A throw-away cluster
    is started only when some manifest lists a vector file (only vector runs use PostGIS).
    """
    landing, out_dir, given_version = _check(options)
    timings: dict[str, float] = {}
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="spatial-etl-local-")))
        log_file = work / "run.log"
        stack.enter_context(_logging_to(log_file, console=options.verbose))
        reporter.phase("starting the embedded services")
        services: dict[str, str] = {}
        endpoint, dsn = _start_services(
            stack, options, landing, work, services=services, given_version=given_version
        )
        for name, label in (("s3", "S3"), ("postgis", "PostGIS")):
            reporter.note(f"{label}: {services[name]}")
        from spatial_etl_dagster.local.ledger import in_process_ledger  # noqa: PLC0415

        ledger = stack.enter_context(in_process_ledger())
        services["ledger"] = "in-process (mongomock)"
        import dagster as dg  # noqa: PLC0415 - loaded by _load_platform

        instance = stack.enter_context(dg.DagsterInstance.ephemeral())
        resources = _resources(endpoint, dsn, ledger)
        stack.callback(resources["minio"].close)  # this store serves the whole local run
        store: ObjectStore = resources["minio"].store()
        _store_buckets(store)
        _reconcile(resources, instance, reporter)  # what killed earlier local runs left
        timings["services"] = time.monotonic() - started

        mark = time.monotonic()
        _upload(landing, store, reporter)
        timings["upload"] = time.monotonic() - mark

        mark = time.monotonic()
        with _environment({"SPATIAL_ETL_MANIFEST_GRACE_PERIOD_S": "0"}):
            runs = _drive(
                resources,
                store,
                instance,
                reporter,
                total=len(landing.manifests),
                verbose=options.verbose,
            )
        outcomes = [_outcome(key, path, store, runs) for key, path in landing.manifests]
        timings["runs"] = time.monotonic() - mark

        mark = time.monotonic()
        reporter.phase("exporting buckets and ledger")
        result = Result(outcomes=outcomes, out_dir=out_dir, services=services, timings=timings)
        logs = {"run.log": log_file.read_text(encoding="utf-8", errors="replace")}
        for run in runs.values():
            logs[f"{_batch_of(run)}.{run.run_id}.log"] = _event_log(instance, run.run_id)
        from spatial_etl_dagster.local.export import export  # noqa: PLC0415

        result.objects = export(
            out_dir,
            store=store,
            buckets=(LANDING_BUCKET, LAKE_BUCKET),
            ledger_db=ledger.ledger().db,
            summary=_summary(result),
            logs=logs,
        )
        timings["export"] = time.monotonic() - mark
        if options.serve_port is not None:
            timings["total"] = time.monotonic() - started
            if exported is not None:
                exported(result)
            from spatial_etl_dagster.local.serving import serve_catalogue  # noqa: PLC0415

            serve_catalogue(
                store,
                ledger.ledger(),
                options.serve_port,
                lambda url: reporter.note(f"catalogue: {url}/ (Ctrl-C stops it)"),
            )
            return result
    timings["total"] = time.monotonic() - started
    return result


def _start_services(
    stack: contextlib.ExitStack[bool | None],
    options: Options,
    landing: Landing,
    work: Path,
    *,
    services: dict[str, str],
    given_version: str | None,
) -> tuple[str, str | None]:
    """Start S3 (and a throw-away PostGIS if a run needs one) while Dagster loads.

    Returns the S3 endpoint and the DSN (None: no PostGIS); describes each in ``services``.
    """
    s3 = stack.enter_context(s3_server(work / "s3-server.log"))
    dsn = options.postgis_dsn
    cluster: Future[tuple[str, Path]] | None = None
    if dsn is None and needs_postgis(landing):
        install = find_postgres(options.pg_bin_dir)
        cluster = stack.enter_context(_in_background(throwaway_postgis(install)))
    _load_platform()  # the bulk of the start-up, while the services start
    try:
        endpoint = s3.endpoint()
    except S3ServerError as error:
        raise CannotRun([str(error)]) from None
    services["s3"] = f"moto S3 server on {endpoint.removeprefix('http://')} (pid {s3.pid})"
    if cluster is not None:
        dsn, home = cluster.result()
        services["postgis"] = f"throw-away cluster in {home} ({postgis_version(dsn)})"
    elif dsn is not None:
        services["postgis"] = f"{_redacted(dsn)} ({given_version})"
    else:
        services["postgis"] = "not started: no manifest lists a vector file"
    return endpoint, dsn


def needs_postgis(landing: Landing) -> bool:
    """Whether any manifest lists a file of type ``vector``: only those runs use PostGIS.

    A run is requested only for a valid manifest, whose files' type is its intent's file
    type; a manifest that cannot be read, or whose types do not match its intent, is rejected
    without compute. So a landing whose manifests list no vector file runs nothing in PostGIS.
    """
    for _, path in landing.manifests:
        try:
            raw = _json_object(path.read_bytes())
        except OSError:
            continue
        files = raw.get("files")
        if isinstance(files, list) and any(
            isinstance(entry, dict) and entry.get("type") == "vector" for entry in files
        ):
            return True
    return False


def _load_platform() -> None:
    """Import Dagster, the job, the sensor and the core's run modules: most of the start-up.

    Nothing here starts a service; it is called while the services start.
    """
    import dagster  # noqa: F401, PLC0415
    import spatial_etl.run.intake  # noqa: PLC0415
    import spatial_etl.run.reconcile  # noqa: F401, PLC0415

    import spatial_etl_dagster.job  # noqa: PLC0415
    import spatial_etl_dagster.sensor  # noqa: F401, PLC0415


@contextlib.contextmanager
def _in_background(manager: AbstractContextManager[_T]) -> Iterator[Future[_T]]:
    """Enter ``manager`` on a thread; yield the future of its value; exit it when done.

    The block may end (an error, Ctrl-C) before the thread has entered the manager: the exit
    waits for the thread, then exits the manager if it was entered, so nothing it started is
    left behind.
    """
    future: Future[_T] = Future()
    entered = contextlib.ExitStack()

    def enter() -> None:
        try:
            future.set_result(entered.enter_context(manager))
        except BaseException as error:  # noqa: BLE001 - handed to whoever waits on the future
            future.set_exception(error)

    thread = threading.Thread(target=enter, name="local-runner-start", daemon=True)
    thread.start()
    try:
        yield future
    finally:
        while thread.is_alive():  # a second Ctrl-C must not skip the cleanup
            with contextlib.suppress(KeyboardInterrupt):
                thread.join()
        entered.close()


def _check(options: Options) -> tuple[Landing, Path, str | None]:
    """Everything the run needs, checked before anything starts; all problems at once.

    Returns the landing, the output directory and the given PostGIS's version (if given).
    """
    problems: list[str] = []
    landing: Landing | None = None
    try:
        landing = scan_landing(options.landing_dir)
    except CannotRun as error:
        problems += error.problems
    out_dir = options.out_dir.resolve()
    if landing is not None:
        root = landing.root.resolve()
        if out_dir == root or root.is_relative_to(out_dir) or out_dir.is_relative_to(root):
            problems.append(f"--out {options.out_dir} must lie outside LANDING_DIR and not hold it")
    if not replaceable(out_dir):
        problems.append(
            f"--out {options.out_dir} exists and is not the output of an earlier local run "
            f"(no {MARKER}): choose a new or empty directory"
        )
    gdal_dir = GdalSettings().gdal_bin_dir
    missing = missing_gdal_programs(gdal_dir)
    if missing:
        where = f"in SPATIAL_ETL_GDAL_BIN_DIR={gdal_dir}" if gdal_dir else "on PATH"
        problems.append(
            f"GDAL command-line tools not found {where} ({', '.join(missing)}): install them "
            "(Debian: apt-get install gdal-bin, or make setup) or set SPATIAL_ETL_GDAL_BIN_DIR"
        )
    version = None
    try:
        if options.postgis_dsn is None:
            find_postgres(options.pg_bin_dir)
        else:
            version = postgis_version(options.postgis_dsn)
    except CannotRun as error:
        problems += error.problems
    if problems:
        raise CannotRun(problems)
    assert landing is not None  # noqa: S101 - no problem means the landing was read
    return landing, out_dir, version


def _resources(endpoint: str, dsn: str | None, ledger: InProcessLedgerResource) -> dict[str, Any]:
    """GDAL and intake settings from the environment; the embedded services pinned.

    ``dsn`` None: no PostGIS was started (no run needs it); the runs get :data:`NO_POSTGIS`.
    """
    from spatial_etl_dagster.resources import (  # noqa: PLC0415 - Dagster: see local_run
        GDALResource,
        IntakeResource,
        MinIOResource,
        PostGISResource,
    )

    return {
        "gdal": GDALResource(),
        "minio": MinIOResource.with_settings(
            s3_endpoint_url=endpoint,
            s3_access_key_id=CREDENTIAL,
            s3_secret_access_key=CREDENTIAL,
            s3_multipart_threshold_mb=SINGLE_PUT_MB,
            landing_bucket=LANDING_BUCKET,
            lake_bucket=LAKE_BUCKET,
        ),
        "postgis": PostGISResource(overrides={"postgis_dsn": dsn or NO_POSTGIS}, owner=LOCAL_OWNER),
        "ledger": ledger,
        "intake": IntakeResource(),
    }


def _store_buckets(store: ObjectStore) -> None:
    store.ensure_bucket(LANDING_BUCKET)
    store.ensure_bucket(LAKE_BUCKET)


def _reconcile(
    resources: Mapping[str, Any], instance: dg.DagsterInstance, reporter: Reporter | None
) -> None:
    """One reconciler pass: a run that died settles its batch, its schema and files go.

    At start-up it finds what an earlier, killed local run left in a given PostGIS (only the
    local runner's own schemas) and in the temporary directory (only directories whose
    process is gone).
    """
    from spatial_etl.run.reconcile import reconcile  # noqa: PLC0415 - see local_run

    from spatial_etl_dagster.platform import build_platform  # noqa: PLC0415

    postgis = resources["postgis"]
    started = postgis.overrides.get("postgis_dsn") != NO_POSTGIS
    platform = build_platform(
        resources["gdal"], resources["minio"], resources["ledger"], postgis if started else None
    )
    try:
        report = reconcile(platform, is_run_alive=lambda run_id: _alive(instance, run_id))
    finally:
        resources["postgis"].close()  # outside Dagster: no teardown closes the pool
    if reporter is not None and report.changed:
        reporter.note(report.summary())


def _alive(instance: dg.DagsterInstance, run_id: str) -> bool:
    run = instance.get_run_by_id(run_id)
    return run is not None and not run.is_finished


def _upload(landing: Landing, store: ObjectStore, reporter: Reporter) -> None:
    """Every file; then, only then, the manifests."""
    queue = [*landing.files, *landing.manifests]
    reporter.phase("uploading the landing zone", total=len(queue))
    for done, (key, path) in enumerate(queue, start=1):
        content_type = "application/json" if key.startswith(PENDING) else None
        store.put_file(LANDING_BUCKET, key, path, metadata={}, content_type=content_type)
        reporter.advance(done, key)
    reporter.note(
        f"uploaded {len(landing.files)} file(s), then {len(landing.manifests)} manifest(s)"
    )


def _drive(
    resources: Mapping[str, Any],
    store: ObjectStore,
    instance: dg.DagsterInstance,
    reporter: Reporter,
    *,
    total: int,
    verbose: bool,
) -> dict[str, dg.ExecuteInProcessResult]:
    """Tick the sensor and execute its requests until a full pass requests nothing new.

    Returns each run's result by the key of its manifest. A run that ended without settling
    its manifest (an error in the code, not in the data) is requested again by the next pass
    under the same run key; that key is not new, so the loop ends rather than retry forever.
    """
    import dagster as dg  # noqa: PLC0415 - see local_run
    from spatial_etl.run.intake import pending_manifests  # noqa: PLC0415

    from spatial_etl_dagster.job import ingest_job  # noqa: PLC0415
    from spatial_etl_dagster.sensor import manifest_sensor  # noqa: PLC0415

    seen: set[str] = set()
    runs: dict[str, dg.ExecuteInProcessResult] = {}
    level = "INFO" if verbose else "CRITICAL"
    loggers = {"console": {"config": {"log_level": level}}}
    reporter.phase("running the manifest sensor and the ingest job", total=total)

    def settled() -> int:
        return total - len(pending_manifests(store))

    for _ in range(MAX_PASSES):
        new = False
        cursor: str | None = None
        while True:
            reporter.advance(settled(), "manifest_sensor: examining pending manifests")
            # The run's instance: without one Dagster builds an ephemeral instance for the
            # sensor's resources at every tick (0.17 s each).
            context = dg.build_sensor_context(
                cursor=cursor, resources=dict(resources), instance=instance
            )
            if not verbose:
                _quiet(context.log)
            tick = manifest_sensor(context)
            if not isinstance(tick, dg.SensorResult):  # pragma: no cover - the sensor's contract
                raise TypeError(f"manifest_sensor returned {type(tick).__name__}")
            for request in tick.run_requests or []:
                if request.job_name != ingest_job.name:
                    continue  # a rejection's run only shows it in the UI: its report says it all
                if request.run_key in seen:
                    continue
                seen.add(request.run_key or "")
                new = True
                batch = request.tags.get("spatial_etl/batch_id", "?")
                intent = request.tags.get("spatial_etl/intent", "?")
                reporter.advance(settled(), f"ingest_job: {batch} ({intent})")
                run = ingest_job.execute_in_process(
                    run_config={**request.run_config, "loggers": loggers},
                    resources=dict(resources),
                    tags=request.tags,
                    raise_on_error=False,
                    instance=instance,
                )
                if _interrupted(run):  # Dagster turns Ctrl-C into a failed run: stop here
                    raise KeyboardInterrupt
                _reconcile(resources, instance, None)  # settles a run that could not
                key = request.run_config["ops"]["ingest_manifest"]["config"]["key"]
                runs[key] = run
            cursor = tick.cursor
            if _cursor_after(cursor) is None:
                break
        if not new:
            break
    reporter.advance(settled(), "done")
    return runs


_INTERRUPTS: Final = frozenset({"KeyboardInterrupt", "DagsterExecutionInterruptedError"})


def _interrupted(run: dg.ExecuteInProcessResult) -> bool:
    """Whether the run ended because of Ctrl-C or SIGTERM (which Dagster does not re-raise)."""
    import dagster as dg  # noqa: PLC0415 - see local_run

    for event in run.all_events:
        if event.event_type == dg.DagsterEventType.RUN_CANCELED:
            return True
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            if error.cls_name in _INTERRUPTS:
                return True
            error = error.cause or error.context
    return False


def _quiet(log: logging.Logger) -> None:
    """Send the sensor's log to the run log instead of the console (it would cut the bars)."""
    for handler in list(log.handlers):
        log.removeHandler(handler)
    log.addHandler(_Forward(logging.getLogger(f"{__name__}.manifest_sensor")))


class _Forward(logging.Handler):
    """Re-log each record on another logger (one the run log listens to)."""

    def __init__(self, target: logging.Logger) -> None:
        super().__init__()
        self._target = target

    def emit(self, record: logging.LogRecord) -> None:
        self._target.log(record.levelno, "%s", record.getMessage())


def _cursor_after(cursor: str | None) -> str | None:
    if not cursor:
        return None
    after = json.loads(cursor).get("after")
    return after if isinstance(after, str) else None


# ----------------------------------------------------------------------------- outcomes


def _outcome(
    key: str, path: Path, store: ObjectStore, runs: Mapping[str, dg.ExecuteInProcessResult]
) -> Outcome:
    """Where the manifest ended in the landing zone, its run's outputs, and why if not good."""
    name = key.rsplit("/", 1)[-1]
    stem = name.removesuffix(".json")
    raw = _json_object(path.read_bytes())
    batch = raw.get("batch_id") if isinstance(raw.get("batch_id"), str) else stem
    intent = raw.get("intent") if isinstance(raw.get("intent"), str) else None
    run = runs.get(key)
    outputs = _outputs(run) if run is not None else ()
    run_id = run.run_id if run is not None else None
    common: dict[str, Any] = {"manifest": key, "batch_id": batch, "intent": intent}
    if store.head(LANDING_BUCKET, f"{PROCESSED}{name}") is not None:
        return Outcome(**common, status="succeeded", outputs=outputs, run_id=run_id)
    if store.head(LANDING_BUCKET, f"{REJECTED}{name}") is not None:
        report = _report(store, f"{REJECTED}{stem}.report.json")
        problems = report.get("problems") or []
        reason = "; ".join(
            f"{p.get('loc') or '(document)'}: {p.get('message')}"
            for p in problems
            if isinstance(p, dict)
        )
        return Outcome(**common, status="rejected", reason=reason or "rejected")
    if store.head(LANDING_BUCKET, f"{FAILED}{name}") is not None:
        error = _report(store, f"{FAILED}{stem}.report.json").get("error") or {}
        return Outcome(
            **common,
            status="failed",
            outputs=outputs,
            reason=_error_text(error) if isinstance(error, dict) else _run_failure(run),
            run_id=run_id,
        )
    reason = _run_failure(run) if run is not None else "the sensor requested no run for it"
    return Outcome(**common, status="failed", outputs=outputs, reason=reason, run_id=run_id)


def _outputs(run: dg.ExecuteInProcessResult) -> tuple[str, ...]:
    """Each version the run published or found already published (an observation of it)."""
    found = []
    node = "ingest_manifest"
    reported = [event.metadata for event in run.asset_materializations_for_node(node)] + [
        event.metadata for event in run.asset_observations_for_node(node)
    ]
    for metadata in reported:
        if "s3_uri" not in metadata:
            continue  # a step's observation
        uri = str(metadata["s3_uri"].value)
        status = metadata["status"].value
        line = uri.removeprefix("s3://")
        found.append(line + (" (unchanged: already in the lake)" if status == "duplicate" else ""))
    return tuple(found)


def _run_failure(run: dg.ExecuteInProcessResult | None) -> str:
    if run is None:
        return "not run"
    failure = run.failure_data_for_node("ingest_manifest")
    if failure is None:
        return f"the run ended {run.dagster_run.status.value.lower()} without settling it"
    if failure.user_failure_data is not None and failure.user_failure_data.description:
        return failure.user_failure_data.description
    error = failure.error
    while error is not None and error.cause is not None:  # Dagster's wrapper -> the exception
        error = error.cause
    return error.message.strip() if error is not None else "the run failed"


def _error_text(error: Mapping[str, Any]) -> str:
    where = ", ".join(f"{k} {error[k]}" for k in ("step", "file") if error.get(k))
    message = str(error.get("message") or "failed")
    return f"{message} ({where})" if where else message


def _report(store: ObjectStore, key: str) -> dict[str, Any]:
    try:
        data, _ = store.get_bytes(LANDING_BUCKET, key)
    except Exception:  # noqa: BLE001 - a missing report leaves the summary without a reason
        return {}
    return _json_object(data)


def _json_object(data: bytes) -> dict[str, Any]:
    """The JSON object in ``data``, or ``{}``: any bytes (a hostile manifest) are fine."""
    value, _ = parse_json_object(data)
    return value or {}


def _summary(result: Result) -> dict[str, Any]:
    return {
        "command": "spatial-etl local run",
        "exit_status": result.exit_status,
        "services": result.services,
        "timings_s": {k: round(v, 3) for k, v in result.timings.items()},
        "manifests": [
            {
                "manifest": o.manifest,
                "batch_id": o.batch_id,
                "intent": o.intent,
                "outcome": o.status,
                "outputs": list(o.outputs),
                "reason": o.reason,
                "run_id": o.run_id,
            }
            for o in result.outcomes
        ],
    }


def _batch_of(run: dg.ExecuteInProcessResult) -> str:
    return run.dagster_run.tags.get("spatial_etl/batch_id", run.run_id)


def _event_log(instance: dg.DagsterInstance, run_id: str) -> str:
    """The run's Dagster event log as text: one line per event, errors in full."""
    lines = []
    for entry in instance.all_logs(run_id):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(entry.timestamp))
        kind = entry.dagster_event.event_type_value if entry.dagster_event else "LOG"
        step = f" {entry.step_key}" if entry.step_key else ""
        lines.append(f"{stamp} {logging.getLevelName(entry.level)} {kind}{step}: {entry.message}")
        data = entry.dagster_event.event_specific_data if entry.dagster_event else None
        error = getattr(data, "error", None)
        if error is not None:
            lines.append(error.to_string().rstrip())
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- helpers


def _redacted(dsn: str) -> str:
    """A DSN without its password, for the console."""
    parts = urlsplit(dsn)
    if not parts.scheme:
        return "SPATIAL_ETL_POSTGIS_DSN"
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the block; restore the previous values afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _logging_to(path: Path, *, console: bool) -> Iterator[None]:
    """Send the platform's log (INFO and up) and every library's warnings to a file.

    With ``console`` (``--verbose``) to stderr as well.
    """
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if console:
        handlers.append(logging.StreamHandler())
    root = logging.getLogger()
    previous = root.level
    for handler in handlers:
        handler.addFilter(
            lambda r: r.name.startswith("spatial_etl") or r.levelno >= logging.WARNING
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous)


__all__ = ["Landing", "Options", "Outcome", "Reporter", "Result", "local_run", "scan_landing"]
