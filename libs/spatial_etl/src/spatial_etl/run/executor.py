"""Execute one manifest's run: stage, compute, export, publish, record.

The core of the platform, with no Dagster in it: the Dagster job (and the local runner) call
:func:`execute_run` and report what it returns. Whatever fails, the platform stays consistent:
the run's PostGIS schema is dropped, nothing is half-published, and the run is recorded as
failed in the ledger with a message that names the step and the file.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Final, Literal

from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from spatial_etl import __version__
from spatial_etl.backends.compute import PostgisCompute, RunSchema
from spatial_etl.backends.ledger import MAX_RECORDED_STEPS, Ledger
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.errors import BatchBusyError, InputError, LedgerError, SpatialEtlError
from spatial_etl.models.ledger import (
    AssetDocument,
    InputRecord,
    PluginRecord,
    Provenance,
    RunDocument,
    RunError,
    StepRecord,
    WorkerRecord,
)
from spatial_etl.models.manifest import Manifest
from spatial_etl.plugins.registry import IntentCatalog, RegisteredIntent
from spatial_etl.run.agreement import check_agreement
from spatial_etl.run.inputs import InputInspection, input_layers, inspect_input
from spatial_etl.run.pipelines import Pipeline, pipeline_for
from spatial_etl.run.planning import InputBinding, RunValues, resolve_batch_plan, resolve_plan
from spatial_etl.run.products import Product, safe_name
from spatial_etl.run.publishing import PublishContext, publish, reuse_unchanged
from spatial_etl.run.screen import screen_input
from spatial_etl.run.staging import StagedInput, stage_inputs
from spatial_etl.run.step_events import (
    StepCallback,
    ended_steps,
    failed_step,
    name_datasets,
    observing,
)
from spatial_etl.run.validation import parse_parameters
from spatial_etl.run.workdirs import run_workdir
from spatial_etl.screening import gdal_config
from spatial_etl.settings import ArchiveSettings
from spatial_etl.spatial_utils.runner import CommandResult, GdalRunner

logger = logging.getLogger(__name__)


@dataclass
class Platform:
    """The services a run uses; the Dagster resources and the local runner build one."""

    store: ObjectStore
    ledger: Ledger
    runner: GdalRunner
    catalog: IntentCatalog
    compute: PostgisCompute | None = None
    workdir: Path | None = None


class OutputReport(BaseModel):
    """One dataset the run published, or found it had already published."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    asset_id: str
    status: Literal["committed", "duplicate"]
    version: int
    s3_key: str
    sha256: str
    duplicate_of: str | None = None
    feature_count: int | None = None
    bbox_wgs84: tuple[float, float, float, float] | None = None

    @classmethod
    def of(cls, doc: AssetDocument) -> OutputReport:
        """The report line of an asset document."""
        status: Literal["committed", "duplicate"] = (
            "duplicate" if doc.status == "duplicate" else "committed"
        )
        return cls(
            dataset=doc.dataset,
            asset_id=doc.asset_id,
            status=status,
            version=doc.version,
            s3_key=doc.s3_key,
            sha256=doc.sha256,
            duplicate_of=doc.duplicate_of,
            feature_count=doc.feature_count,
            bbox_wgs84=doc.bbox_wgs84,
        )


class RunReport(BaseModel):
    """What a run did: its outcome, its outputs, and why it failed if it did."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    batch_id: str
    intent: str
    status: Literal["succeeded", "failed"]
    outputs: list[OutputReport] = Field(default_factory=list)
    error: RunError | None = None
    timings: dict[str, float] = Field(default_factory=dict)
    recorded: bool = Field(
        default=True, description="False when the ledger could not be written at the end."
    )
    cleanup_errors: list[str] = Field(default_factory=list)


def execute_run(
    run_id: str,
    manifest: Manifest,
    platform: Platform,
    *,
    lease: bool = False,
    on_step: StepCallback | None = None,
) -> RunReport:
    """Run ``manifest``'s intent for every file; record the run; never leave half a result.

    Whatever is raised inside — a platform error, a plugin's or a library's exception of any
    type, in any stage — the run ends recorded as failed with the error's type, message, step
    and file, and a failed report is returned. An interrupt (``KeyboardInterrupt``,
    ``SystemExit``: a run terminated by its orchestrator) is recorded the same way, after every
    ``finally`` has run, and then re-raised. When the ledger itself cannot be written the
    report says so (``recorded=False``) and the reconciler finishes the record later.

    With ``lease`` the run first takes the batch's lease (:meth:`Ledger.acquire_batch`), so a
    second run of the same batch fails without doing anything, and every publish checks the
    lease is still held before it claims a version and before it commits.

    ``on_step`` is told of each step that ends, with its duration (:mod:`.step_events`).
    """
    run = _Run(run_id, manifest, platform, lease=lease)
    with observing(on_step):
        try:
            run.begin()
            run.execute()
        except BaseException as error:
            report = run.finish_failed(error)
            if not isinstance(error, Exception):
                raise
            return report
        return run.finish_succeeded()


_UNKNOWN_PLUGIN: Final = PluginRecord(name="-", distribution=None, version=None)
_MESSAGE_LIMIT: Final = 8000


class _Run:
    """The state of one run while it executes."""

    def __init__(self, run_id: str, manifest: Manifest, platform: Platform, *, lease: bool) -> None:
        self.run_id = run_id
        self.manifest = manifest
        self.platform = platform
        self.lease = lease
        self.registered: RegisteredIntent | None = None
        self.parameters: dict[str, JsonValue] = {}
        self.parameter_model: BaseModel | None = None
        self.plugin = _UNKNOWN_PLUGIN
        self.inputs: list[InputRecord] = []
        self.outputs: list[AssetDocument] = []
        self.timings: dict[str, float] = {}
        self.cleanup_errors: list[str] = []
        self.started = False

    @property
    def asset_ids(self) -> list[str]:
        return [doc.asset_id for doc in self.outputs]

    # ----------------------------------------------------------------------- life cycle

    def begin(self) -> None:
        """Resolve the intent and its parameters, record the run, take the lease.

        The run is recorded before anything that can fail for a reason worth recording (an
        intent gone since the sensor's tick, invalid parameters, a busy batch).
        """
        setup_error: Exception | None = None
        try:
            self.registered = self.platform.catalog.get(self.manifest.intent)
            self.plugin = PluginRecord.from_info(self.registered.plugin)
            self.parameter_model, self.parameters = _parameters(self.manifest, self.registered)
        except Exception as error:  # noqa: BLE001 - recorded below as the run's failure
            setup_error = error
        self._record_start()
        if setup_error is not None:
            raise setup_error
        if self.lease:
            self.platform.ledger.acquire_batch(self.manifest.batch_id, self.run_id)

    def _record_start(self) -> None:
        try:
            self.platform.ledger.start_run(self.document())
        except LedgerError:
            existing = self.platform.ledger.get_run(self.run_id)
            if existing is None or existing.status != "running":
                raise
            logger.warning("run %s is already recorded as running: resuming it", self.run_id)
        self.started = True

    def finish_succeeded(self) -> RunReport:
        try:
            self.platform.ledger.finish_run(
                self.run_id,
                "succeeded",
                outputs=self.asset_ids,
                inputs=self.inputs,
                timings=self.timings,
                steps=_step_records(),
                cleanup_errors=self.cleanup_errors,
            )
        except Exception as error:  # noqa: BLE001 - the ledger is down: say it, do not raise
            logger.error("run %s succeeded but could not be recorded: %s", self.run_id, error)
            return self.report("succeeded", None, recorded=False)
        return self.report("succeeded", None)

    def finish_failed(self, error: BaseException) -> RunReport:
        """Record ``error`` as the run's failure; never raises (the report says if it could)."""
        failure = run_error(error)
        logger.error("run %s failed: %s: %s", self.run_id, failure.type, failure.message)
        try:
            if not self.started:
                self._record_start()
            self.platform.ledger.finish_run(
                self.run_id,
                "failed",
                error=failure,
                outputs=self.asset_ids,
                inputs=self.inputs,
                timings=self.timings,
                steps=_step_records(),
                cleanup_errors=self.cleanup_errors,
            )
        except Exception as record_error:  # noqa: BLE001 - reported, finished by the reconciler
            logger.error("run %s: the failure could not be recorded: %s", self.run_id, record_error)
            return self.report("failed", failure, recorded=False)
        return self.report("failed", failure)

    def document(self) -> RunDocument:
        return RunDocument(
            run_id=self.run_id,
            batch_id=self.manifest.batch_id,
            intent=self.manifest.intent,
            plugin=self.plugin,
            status="running",
            started_at=datetime.now(UTC),
            finished_at=None,
            error=None,
            inputs=[],
            outputs=[],
            timings={},
            versions=self._safe_versions(),
            worker=WorkerRecord(host=socket.gethostname() or "unknown", pid=os.getpid()),
        )

    def _safe_versions(self) -> dict[str, str]:
        try:
            return _versions(self.platform, self.registered)
        except Exception as error:  # noqa: BLE001 - informative only: never stop the record
            return {"spatial-etl": __version__, "others": f"unavailable: {error}"}

    def report(
        self,
        status: Literal["succeeded", "failed"],
        error: RunError | None,
        *,
        recorded: bool = True,
    ) -> RunReport:
        return RunReport(
            run_id=self.run_id,
            batch_id=self.manifest.batch_id,
            intent=self.manifest.intent,
            status=status,
            outputs=[OutputReport.of(doc) for doc in self.outputs],
            error=error,
            timings=self.timings,
            recorded=recorded,
            cleanup_errors=list(self.cleanup_errors),
        )

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.monotonic() - started

    # ----------------------------------------------------------------------- the work

    def execute(self) -> None:
        assert self.registered is not None  # noqa: S101 - begin() raised otherwise
        context = self._context(self.registered)
        with run_workdir(self.run_id, self.platform.workdir, self.cleanup_errors.append) as work:
            with self.timed("stage"):
                staged = stage_inputs(self.platform.store, self.manifest, work)
            self.inputs = [record for item in staged for record in item.records]
            if self.registered.intent.takes_batch:
                self._execute_batch(staged, work, context)
                return
            datasets = _dataset_names(self.manifest, staged)
            name_datasets({item.file.path: datasets[item.index] for item in staged})
            splits = _may_split(self.registered)
            todo: list[StagedInput] = []
            for item in staged:
                reused = (
                    None if splits else reuse_unchanged(datasets[item.index], item.records, context)
                )
                if reused is None:
                    todo.append(item)
                else:
                    self.outputs.append(reused)
            if not todo:
                return
            products = self._process(todo, work)
            names = _product_names(datasets, products)
            with self.timed("publish"):
                for (item, product), name in zip(products, names, strict=True):
                    doc = publish(product, name, item.records, context)
                    self.outputs.append(doc)

    def _execute_batch(
        self, staged: Sequence[StagedInput], work: Path, context: PublishContext
    ) -> None:
        """A batch intent: every input into one product, one asset recording all the inputs."""
        dataset = batch_dataset_name(self.manifest)
        name_datasets({item.file.path: dataset for item in staged})
        reused = reuse_unchanged(dataset, self.inputs, context)
        if reused is not None:
            self.outputs.append(reused)
            return
        with self.timed("process"):
            product = self._produce_batch(staged, work)
        with self.timed("publish"):
            self.outputs.append(publish(product, dataset, self.inputs, context))

    def _produce_batch(self, staged: Sequence[StagedInput], work: Path) -> Product:
        """Screen and inspect every input, check they agree, plan once over all, produce."""
        assert self.registered is not None  # noqa: S101 - begin() raised otherwise
        pipeline = pipeline_for(self.registered.intent)
        runner: GdalRunner = _BoundRunner(self.platform.runner, gdal_config(self.registered))
        inspected: list[tuple[StagedInput, InputInspection]] = []
        for item in staged:
            try:
                screen_input(item, self.registered, ArchiveSettings())
                inspection = inspect_input(
                    runner,
                    self.registered,
                    item.file,
                    item.gdal_path,
                    self.parameters,
                    label=f"files[{item.index}] {item.file.path}",
                )
            except SpatialEtlError as error:
                if error.file is None:
                    error.file = item.file.path
                raise
            inspected.append((item, inspection))
        check_agreement([(item.file, inspection) for item, inspection in inspected])
        bindings = [
            pipeline.binding(
                InputBinding(
                    index=item.index,
                    file=item.file,
                    gdal_path=item.gdal_path,
                    crs_missing=inspection.crs_assigned,
                ),
                inspection,
            )
            for item, inspection in inspected
        ]
        run = RunValues(run_id=self.run_id, schema_name="", workdir=work)
        plan = resolve_batch_plan(
            self.registered, self.manifest, bindings, run, parameters=self.parameter_model
        )
        [product] = pipeline.produce(
            plan,
            inspected[0][1],
            runner=runner,
            compute=None,
            schema=None,
            out=work / f"output_batch{pipeline.product_suffix}",
        )
        return product

    def _context(self, registered: RegisteredIntent) -> PublishContext:
        guard = self._check_lease if self.lease else None
        return PublishContext(
            store=self.platform.store,
            ledger=self.platform.ledger,
            run_id=self.run_id,
            batch_id=self.manifest.batch_id,
            intent=self.manifest.intent,
            plugin=self.plugin,
            parameters=self.parameters,
            provenance=Provenance(
                project=self.manifest.metadata.project,
                uploader=self.manifest.uploader,
                description=self.manifest.metadata.description or None,
            ),
            intent_summary=registered.intent.summary,
            guard=guard,
        )

    def _check_lease(self) -> None:
        """Raise unless this run still holds its batch (the reconciler may have freed it)."""
        batch = self.platform.ledger.get_batch(self.manifest.batch_id)
        holder = batch.lease.run_id if batch is not None and batch.lease is not None else None
        if holder != self.run_id:
            raise BatchBusyError(self.manifest.batch_id, holder or "nobody")

    def _process(
        self, todo: Sequence[StagedInput], work: Path
    ) -> list[tuple[StagedInput, Product]]:
        assert self.registered is not None  # noqa: S101 - begin() raised otherwise
        pipeline = pipeline_for(self.registered.intent)
        runner: GdalRunner = _BoundRunner(self.platform.runner, gdal_config(self.registered))
        if not pipeline.needs_postgis:
            with self.timed("process"):
                return [
                    (item, product)
                    for item in todo
                    for product in self._produce(pipeline, item, runner, work)
                ]
        compute = self.platform.compute
        if compute is None:
            raise SpatialEtlError(
                f"intent {self.manifest.intent!r} needs PostGIS, which is not configured"
            )
        source, pg_env = compute.gdal_source()
        runner = _BoundRunner(runner, pg_env)
        with (
            self.timed("process"),
            compute.run_schema(self.run_id, on_cleanup_error=self.cleanup_errors.append) as schema,
        ):
            return [
                (item, product)
                for item in todo
                for product in self._produce(
                    pipeline, item, runner, work, compute=compute, schema=schema, source=source
                )
            ]

    def _produce(
        self,
        pipeline: Pipeline,
        item: StagedInput,
        runner: GdalRunner,
        work: Path,
        *,
        compute: PostgisCompute | None = None,
        schema: RunSchema | None = None,
        source: str | None = None,
    ) -> list[Product]:
        """One input screened, inspected, planned and processed into its product(s).

        An input of an intent with ``Accepts.layers='each'`` is planned once per layer, each
        layer loaded into its own table; its products are told apart by the layer's name when
        the input has several. An error of the platform that does not say which file it
        concerns is given this input's path, so the run's record names it.
        """
        assert self.registered is not None  # noqa: S101 - begin() raised otherwise
        try:
            screen_input(item, self.registered, ArchiveSettings())
            run = RunValues(
                run_id=self.run_id,
                schema_name=schema.name if schema is not None else "",
                workdir=work,
                postgis=source,
            )
            layers = input_layers(runner, self.registered, item.gdal_path, self.parameters)
            if layers is None:
                out = work / f"output_{item.index}{pipeline.product_suffix}"
                return self._plan_and_produce(
                    pipeline, item, runner, run, out, compute=compute, schema=schema
                )
            products: list[Product] = []
            for part, layer in enumerate(layers):
                out = work / f"output_{item.index}_{part}{pipeline.product_suffix}"
                made = self._plan_and_produce(
                    pipeline,
                    item,
                    runner,
                    run,
                    out,
                    compute=compute,
                    schema=schema,
                    layer=layer,
                    part=part,
                )
                label = safe_name(layer) if len(layers) > 1 else None
                products += [
                    product.model_copy(update={"part": _joined(label, product.part)})
                    for product in made
                ]
            return products
        except SpatialEtlError as error:
            if error.file is None:
                error.file = item.file.path
            raise

    def _plan_and_produce(
        self,
        pipeline: Pipeline,
        item: StagedInput,
        runner: GdalRunner,
        run: RunValues,
        out: Path,
        *,
        compute: PostgisCompute | None,
        schema: RunSchema | None,
        layer: str | None = None,
        part: int | None = None,
    ) -> list[Product]:
        assert self.registered is not None  # noqa: S101 - begin() raised otherwise
        inspection = inspect_input(
            runner,
            self.registered,
            item.file,
            item.gdal_path,
            self.parameters,
            label=f"files[{item.index}] {item.file.path}",
            layer=layer,
        )
        raw = InputBinding(
            index=item.index,
            file=item.file,
            gdal_path=item.gdal_path,
            part=part,
            crs_missing=inspection.crs_assigned,
        )
        binding = pipeline.binding(raw, inspection)
        plan = resolve_plan(
            self.registered, self.manifest, binding, run, parameters=self.parameter_model
        )
        return pipeline.produce(
            plan, inspection, runner=runner, compute=compute, schema=schema, out=out
        )


def _step_records() -> list[StepRecord]:
    """The run's ended steps as the ledger keeps them (the dataset is the outputs' business)."""
    return [
        StepRecord(
            step=event.step,
            kind=event.kind,
            file=event.file,
            status=event.status,
            seconds=round(event.seconds, 3),
        )
        for event in ended_steps()[:MAX_RECORDED_STEPS]
    ]


def run_error(error: BaseException) -> RunError:
    """The ledger's record of an exception: type, message, and step and file when known.

    Interrupts get a message that says what happened (their own text is empty). An exception
    of any type that came out of a step of the run (a plugin's kind raising ``KeyError``) is
    located at that step and file, as a platform error would be.
    """
    kind = type(error).__name__
    if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit, Dagster's interrupt
        message = f"the run was interrupted ({kind}): terminated by its orchestrator or a signal"
    else:
        message = str(error).strip() or kind
    if len(message) > _MESSAGE_LIMIT:
        message = message[:_MESSAGE_LIMIT] + " [...]"
    step, file = (error.step, error.file) if isinstance(error, SpatialEtlError) else (None, None)
    located = failed_step(error) if step is None else None
    if located is not None:
        step, file = located[0], file or located[1]
    return RunError(message=message, type=kind, step=step, file=file)


class _BoundRunner:
    """A runner that adds fixed environment to each call.

    GDAL on user data gets no network and no credentials (``screening.gdal_config``); a vector
    run adds PostgreSQL's connection settings for ``ogr2ogr``'s ``PG:`` output.
    """

    def __init__(self, runner: GdalRunner, env: Mapping[str, str]) -> None:
        self._runner = runner
        self._env = dict(env)

    def run(
        self,
        argv: Sequence[str],
        *,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> CommandResult:
        merged = {**self._env, **(env or {})}
        return self._runner.run(argv, timeout_s=timeout_s, env=merged, check=check)


def _parameters(
    manifest: Manifest, registered: RegisteredIntent
) -> tuple[BaseModel | None, dict[str, JsonValue]]:
    """The intent's parameters, validated once per run: the model instance and its JSON.

    Raises :class:`InputError` listing every problem.
    """
    parsed, problems = parse_parameters(manifest, registered)
    if problems:
        raise InputError("invalid parameters: " + "; ".join(str(problem) for problem in problems))
    if parsed is None:
        return None, {}
    dumped: dict[str, JsonValue] = parsed.model_dump(mode="json")
    return parsed, dumped


def _may_split(registered: RegisteredIntent) -> bool:
    """Whether an input may make several datasets, known only once it is processed.

    Such intents skip the unchanged-inputs shortcut (the datasets are not known beforehand);
    publishing still records equal content as a duplicate of its version.
    """
    intent = registered.intent
    return intent.accepts.layers == "each" or intent.export.partition is not None


def _joined(*parts: str | None) -> str | None:
    kept = [part for part in parts if part]
    return "_".join(kept) if kept else None


def _product_names(
    datasets: Mapping[int, str], products: Sequence[tuple[StagedInput, Product]]
) -> list[str]:
    """Each product's dataset: its input's, with ``_<part>`` when the input made several."""
    names = [
        datasets[item.index]
        if product.part is None
        else safe_name(f"{datasets[item.index]}_{product.part}")
        for item, product in products
    ]
    seen: dict[str, str] = {}
    for (item, _), name in zip(products, names, strict=True):
        if name in seen and seen[name] != item.file.path:
            raise InputError(
                f"{seen[name]} and {item.file.path} would both publish dataset {name!r}; "
                "give the files distinct names or split the batch"
            )
        if name in seen:
            raise InputError(f"{item.file.path} would publish dataset {name!r} twice")
        seen[name] = item.file.path
    return names


def batch_dataset_name(manifest: Manifest) -> str:
    """The one dataset of a batch intent: ``metadata.dataset``, else the batch id."""
    return manifest.metadata.dataset or safe_name(manifest.batch_id)


def _dataset_names(manifest: Manifest, staged: Sequence[StagedInput]) -> dict[int, str]:
    """A dataset per file: ``metadata.dataset`` for a single file, else ``<dataset>_<stem>``."""
    given = manifest.metadata.dataset
    names: dict[int, str] = {}
    for item in staged:
        stem = safe_name(PurePosixPath(item.file.landing.key).stem)
        if given is None:
            names[item.index] = stem
        else:
            names[item.index] = given if len(staged) == 1 else f"{given}_{stem}"
    seen: dict[str, int] = {}
    for index, name in names.items():
        if name in seen:
            raise InputError(
                f"files[{seen[name]}] and files[{index}] would both publish dataset {name!r}; "
                "give the files distinct names or split the batch"
            )
        seen[name] = index
    return names


def _versions(platform: Platform, registered: RegisteredIntent | None) -> dict[str, str]:
    versions = {"spatial-etl": __version__}
    if registered is None:
        return versions
    plugin = registered.plugin
    versions[plugin.distribution or plugin.name] = plugin.version or "unknown"
    try:
        versions["gdal"] = platform.runner.run(["gdalinfo", "--version"]).stdout.strip()
    except Exception as error:  # noqa: BLE001 - a version is informative, never fatal
        versions["gdal"] = f"unavailable: {error}"
    if pipeline_for(registered.intent).needs_postgis and platform.compute is not None:
        try:
            [(postgis,)] = platform.compute.fetch(
                sql.SQL("SELECT postgis_full_version()"), step="versions"
            )
            versions["postgis"] = (
                str(postgis).split('"')[1] if '"' in str(postgis) else str(postgis)
            )
        except Exception as error:  # noqa: BLE001 - a version is informative, never fatal
            versions["postgis"] = f"unavailable: {error}"
    return versions
