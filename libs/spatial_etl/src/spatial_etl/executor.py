"""Execute one manifest's run: stage, compute, export, publish, record.

The core of the platform, with no Dagster in it: the Dagster job (and the local runner) call
:func:`execute_run` and report what it returns. Whatever fails, the platform stays consistent:
the run's PostGIS schema is dropped, nothing is half-published, and the run is recorded as
failed in the ledger with a message that names the step and the file.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Literal

from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from spatial_etl import __version__
from spatial_etl.compute import PostgisCompute, RunSchema
from spatial_etl.errors import InputError, SpatialEtlError
from spatial_etl.inputs import inspect_input
from spatial_etl.ledger import Ledger
from spatial_etl.models.ledger import (
    AssetDocument,
    InputRecord,
    PluginRecord,
    RunDocument,
    RunError,
)
from spatial_etl.models.manifest import Manifest
from spatial_etl.planning import InputBinding, RunValues, resolve_plan
from spatial_etl.products import Product, run_raster_plan, run_vector_plan, safe_name
from spatial_etl.publishing import PublishContext, publish, record_duplicate
from spatial_etl.registry import IntentCatalog, RegisteredIntent
from spatial_etl.screening import gdal_config, screen_input
from spatial_etl.settings import ArchiveSettings
from spatial_etl.spatial_utils.runner import CommandResult, GdalRunner
from spatial_etl.staging import StagedInput, stage_inputs
from spatial_etl.storage import ObjectStore
from spatial_etl.validation import parameter_problems

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


def execute_run(run_id: str, manifest: Manifest, platform: Platform) -> RunReport:
    """Run ``manifest``'s intent for every file; record the run; never leave half a result.

    An unknown or contested intent raises (the sensor rejects such manifests before a run
    exists); every later failure, invalid parameters included, is a recorded failed run.
    """
    registered = platform.catalog.get(manifest.intent)
    invalid = _parameter_error(manifest, registered)
    parameters = {} if invalid else _parameters(manifest, registered)
    run = _Run(run_id, manifest, platform, registered, parameters)
    platform.ledger.start_run(run.document())
    try:
        if invalid:
            raise invalid
        run.execute()
    except SpatialEtlError as error:
        logger.error("run %s failed: %s", run_id, error)
        failure = RunError(
            message=str(error),
            step=getattr(error, "step", None),
            file=getattr(error, "file", None),
        )
        platform.ledger.finish_run(
            run_id,
            "failed",
            error=failure,
            outputs=run.asset_ids,
            inputs=run.inputs,
            timings=run.timings,
        )
        return run.report("failed", failure)
    platform.ledger.finish_run(
        run_id, "succeeded", outputs=run.asset_ids, inputs=run.inputs, timings=run.timings
    )
    return run.report("succeeded", None)


class _Run:
    """The state of one run while it executes."""

    def __init__(
        self,
        run_id: str,
        manifest: Manifest,
        platform: Platform,
        registered: RegisteredIntent,
        parameters: dict[str, JsonValue],
    ) -> None:
        self.run_id = run_id
        self.manifest = manifest
        self.platform = platform
        self.registered = registered
        self.parameters = parameters
        self.plugin = PluginRecord.from_info(registered.plugin)
        self.inputs: list[InputRecord] = []
        self.outputs: list[AssetDocument] = []
        self.timings: dict[str, float] = {}
        self.context = PublishContext(
            store=platform.store,
            ledger=platform.ledger,
            run_id=run_id,
            batch_id=manifest.batch_id,
            intent=manifest.intent,
            plugin=self.plugin,
            parameters=parameters,
            abstract=manifest.metadata.description or registered.intent.summary,
        )

    @property
    def asset_ids(self) -> list[str]:
        return [doc.asset_id for doc in self.outputs]

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
            versions=_versions(self.platform, self.registered),
        )

    def report(self, status: Literal["succeeded", "failed"], error: RunError | None) -> RunReport:
        return RunReport(
            run_id=self.run_id,
            batch_id=self.manifest.batch_id,
            intent=self.manifest.intent,
            status=status,
            outputs=[OutputReport.of(doc) for doc in self.outputs],
            error=error,
            timings=self.timings,
        )

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.monotonic() - started

    def execute(self) -> None:
        with tempfile.TemporaryDirectory(dir=self.platform.workdir, prefix="spatial-etl-") as tmp:
            work = Path(tmp)
            with self.timed("stage"):
                staged = stage_inputs(self.platform.store, self.manifest, work)
            self.inputs = [record for item in staged for record in item.records]
            datasets = _dataset_names(self.manifest, staged)
            todo = [
                item for item in staged if not self._already_published(item, datasets[item.index])
            ]
            if not todo:
                return
            products = self._process(todo, work)
            with self.timed("publish"):
                for item, product in products:
                    doc = publish(product, datasets[item.index], item.records, self.context)
                    self.outputs.append(doc)

    def _already_published(self, item: StagedInput, dataset: str) -> bool:
        """Skip the work when the same inputs, plugin version and parameters made the latest."""
        latest = self.platform.ledger.latest_committed(self.manifest.intent, dataset)
        if latest is None:
            return False
        same = (
            sorted(r.sha256 for r in latest.inputs) == sorted(r.sha256 for r in item.records)
            and latest.plugin.version == self.plugin.version
            and latest.parameters == self.parameters
        )
        if same:
            logger.info(
                "%s: inputs unchanged since version %s; recording a duplicate",
                dataset,
                latest.version,
            )
            self.outputs.append(record_duplicate(latest, item.records, self.context))
        return same

    def _process(
        self, todo: Sequence[StagedInput], work: Path
    ) -> list[tuple[StagedInput, Product]]:
        runner = _BoundRunner(self.platform.runner, gdal_config(self.registered))
        if not self.registered.intent.is_vector:
            with self.timed("process"):
                return [(item, self._raster(item, runner, work)) for item in todo]
        compute = self.platform.compute
        if compute is None:
            raise SpatialEtlError(
                f"intent {self.manifest.intent!r} needs PostGIS, which is not configured"
            )
        source, pg_env = compute.gdal_source()
        runner = _BoundRunner(runner, pg_env)
        with self.timed("process"), compute.run_schema(self.run_id) as schema:
            return [
                (
                    item,
                    self._vector(
                        item,
                        runner=runner,
                        compute=compute,
                        schema=schema,
                        source=source,
                        work=work,
                    ),
                )
                for item in todo
            ]

    def _raster(self, item: StagedInput, runner: GdalRunner, work: Path) -> Product:
        screen_input(item, self.registered, ArchiveSettings(), runner)
        inspect_input(runner, self.registered, item.file, item.gdal_path, self.parameters)
        binding = InputBinding(index=item.index, file=item.file, gdal_path=item.gdal_path)
        run = RunValues(run_id=self.run_id, schema_name="", workdir=work)
        plan = resolve_plan(self.registered, self.manifest, binding, run)
        return run_raster_plan(plan, runner=runner, out=work / f"output_{item.index}.tif")

    def _vector(
        self,
        item: StagedInput,
        *,
        runner: GdalRunner,
        compute: PostgisCompute,
        schema: RunSchema,
        source: str,
        work: Path,
    ) -> Product:
        screen_input(item, self.registered, ArchiveSettings(), runner)
        inspection = inspect_input(
            runner, self.registered, item.file, item.gdal_path, self.parameters
        )
        layer = inspection.layer.name if inspection.layer else None
        binding = InputBinding(
            index=item.index, file=item.file, gdal_path=item.gdal_path, layer=layer
        )
        run = RunValues(run_id=self.run_id, schema_name=schema.name, workdir=work, postgis=source)
        plan = resolve_plan(self.registered, self.manifest, binding, run)
        return run_vector_plan(
            plan,
            inspection,
            runner=runner,
            compute=compute,
            schema=schema,
            out=work / f"output_{item.index}.parquet",
        )


class _BoundRunner:
    """A runner that adds fixed environment (GDAL's S3 and PostgreSQL settings) to each call."""

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


def _parameter_error(manifest: Manifest, registered: RegisteredIntent) -> InputError | None:
    problems = parameter_problems(manifest, registered)
    if not problems:
        return None
    return InputError("invalid parameters: " + "; ".join(str(problem) for problem in problems))


def _parameters(manifest: Manifest, registered: RegisteredIntent) -> dict[str, JsonValue]:
    model = registered.intent.parameters
    if model is None:
        return {}
    dumped: dict[str, JsonValue] = model.model_validate(manifest.metadata.parameters).model_dump(
        mode="json"
    )
    return dumped


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


def _versions(platform: Platform, registered: RegisteredIntent) -> dict[str, str]:
    versions = {
        "spatial-etl": __version__,
        registered.plugin.distribution or registered.plugin.name: registered.plugin.version
        or "unknown",
    }
    try:
        versions["gdal"] = platform.runner.run(["gdalinfo", "--version"]).stdout.strip()
    except SpatialEtlError as error:
        versions["gdal"] = f"unavailable: {error}"
    if registered.intent.is_vector and platform.compute is not None:
        try:
            [(postgis,)] = platform.compute.fetch(
                sql.SQL("SELECT postgis_full_version()"), step="versions"
            )
            versions["postgis"] = (
                str(postgis).split('"')[1] if '"' in str(postgis) else str(postgis)
            )
        except SpatialEtlError as error:
            versions["postgis"] = f"unavailable: {error}"
    return versions
