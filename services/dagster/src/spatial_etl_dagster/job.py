"""The one shared job: run the intent of one manifest, report its outputs as lake assets."""

from collections.abc import Iterator, Sequence
from datetime import datetime

import dagster as dg
from pydantic import Field
from spatial_etl.backends.ledger import Ledger
from spatial_etl.errors import ConfigurationError
from spatial_etl.models.ledger import AssetDocument, InputRecord
from spatial_etl.run.executor import OutputReport, RunReport
from spatial_etl.run.intake import ManifestRef, run_batch
from spatial_etl.run.step_events import StepEvent

from spatial_etl_dagster.asset_metadata import (
    duplicate_metadata,
    landing_metadata,
    output_metadata,
    step_metadata,
    version_metadata,
)
from spatial_etl_dagster.catalog import lake_key, landing_key, partitions_name
from spatial_etl_dagster.platform import open_platform
from spatial_etl_dagster.resources import (
    GDALResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)


class ManifestConfig(dg.Config):
    """Which manifest version the run processes (set by the sensor)."""

    key: str = Field(description="Landing-zone key of the manifest, manifests/<batch>.json.")
    etag: str = Field(description="ETag of the version the sensor examined.")
    last_modified: str | None = Field(
        default=None, description="Its modification time (ISO 8601), part of the run key."
    )

    def ref(self) -> ManifestRef:
        """The core's reference to that manifest version."""
        modified = datetime.fromisoformat(self.last_modified) if self.last_modified else None
        return ManifestRef(key=self.key, etag=self.etag, last_modified=modified)


@dg.op(
    description="Stage, compute, export, publish and record one manifest's batch; report each "
    "dataset version as a partition of lake/<intent> and each step with its duration.",
    out=dg.Out(dg.Nothing),
)
def ingest_manifest(  # noqa: PLR0917 - Dagster injects config and resources by parameter
    context: dg.OpExecutionContext,
    config: ManifestConfig,
    gdal: GDALResource,
    minio: MinIOResource,
    postgis: PostGISResource,
    ledger: LedgerResource,
) -> Iterator[dg.AssetMaterialization | dg.AssetObservation]:
    """Thin adapter over :func:`spatial_etl.run.intake.run_batch`.

    The core records every outcome; this op reports it. It raises when the run failed, when
    the ledger could not record the outcome, or when settling failed (the reconcile sensor
    finishes both), so Dagster's status never says success for a batch that is not settled.
    Each step is logged as it ends; once the run is over the steps become observations of the
    datasets they made, then each new version a materialization of its dataset's partition.
    """
    events: list[StepEvent] = []

    def on_step(event: StepEvent) -> None:
        events.append(event)
        where = f" on {event.file}" if event.file else ""
        line = f"step {event.step} ({event.kind}) {event.status} in {event.seconds:.2f} s{where}"
        if event.error:
            context.log.warning(f"{line}: {event.error}")
        else:
            context.log.info(line)

    try:
        with open_platform(gdal, minio, ledger, postgis) as platform:
            report = run_batch(config.ref(), context.run_id, platform, on_step=on_step)
            documents, unread = _documents(context, platform.ledger, report)
            inputs = _inputs(context, platform.ledger, report)
            bucket = platform.store.settings.lake_bucket
    except ConfigurationError as error:
        raise dg.Failure(description=str(error)) from None
    if inputs:
        yield dg.AssetObservation(
            asset_key=landing_key(report.intent),
            description=f"batch {report.batch_id}: {len(inputs)} object(s) read",
            metadata=landing_metadata(report.batch_id, inputs),
        )
    yield from report_outcome(context.instance, report, documents, events)
    yield from _unread_outcome(report.intent, unread, bucket)
    for problem in report.cleanup_errors:
        context.log.warning(f"cleanup: {problem}")
    if report.status == "failed":
        assert report.error is not None  # noqa: S101 - a failed report says why
        raise dg.Failure(description=report.error.message, metadata=failure_metadata(report))
    if not report.recorded:
        raise dg.Failure(
            description="the run succeeded but the ledger could not record it; the reconcile "
            "sensor finishes the record"
        )
    context.log.info(f"batch {report.batch_id}: {len(report.outputs)} output(s)")


def _documents(
    context: dg.OpExecutionContext, ledger: Ledger, report: RunReport
) -> tuple[list[AssetDocument], list[OutputReport]]:
    """The ledger documents of the run's outputs, and the outputs whose document is unreadable.

    The run is recorded whatever this returns: a ledger that fails here only costs the UI
    the versions' full metadata (logged); those outputs are reported from the run's report.
    """
    documents: list[AssetDocument] = []
    unread: list[OutputReport] = []
    for output in report.outputs:
        try:
            doc = ledger.get_asset(output.asset_id)
        except Exception as error:  # noqa: BLE001 - reporting must not fail a recorded run
            context.log.warning(f"asset {output.asset_id}: cannot read its record: {error}")
            doc = None
        if doc is None:
            unread.append(output)
        else:
            documents.append(doc)
    return documents, unread


def _unread_outcome(
    intent: str, outputs: Sequence[OutputReport], bucket: str
) -> Iterator[dg.AssetMaterialization | dg.AssetObservation]:
    """Outputs whose ledger document could not be read, with what the run's report says."""
    for output in outputs:
        metadata = output_metadata(output, bucket)
        partition = partition_key(output.dataset)
        if output.status == "duplicate":
            yield dg.AssetObservation(
                asset_key=lake_key(intent), partition=partition, metadata=metadata
            )
        else:
            yield dg.AssetMaterialization(
                asset_key=lake_key(intent), partition=partition, metadata=metadata
            )


def _inputs(context: dg.OpExecutionContext, ledger: Ledger, report: RunReport) -> list[InputRecord]:
    """The landing objects the run recorded having read (none when they cannot be read)."""
    try:
        run = ledger.get_run(report.run_id)
    except Exception as error:  # noqa: BLE001 - reporting must not fail a recorded run
        context.log.warning(f"run {report.run_id}: cannot read its record: {error}")
        return []
    return list(run.inputs) if run is not None else []


def report_outcome(
    instance: dg.DagsterInstance,
    report: RunReport,
    documents: Sequence[AssetDocument],
    events: Sequence[StepEvent],
) -> Iterator[dg.AssetMaterialization | dg.AssetObservation]:
    """The run's events for the catalogue, in the order they happened.

    Partitions are added first (a dataset's partition exists before anything names it); each
    step is an observation of every dataset it contributed to (by its input file), or of the
    intent's asset as a whole when it made none (a failed run); then each new version is a
    materialization and each reproduced one an observation naming the version.
    """
    key = lake_key(report.intent)
    datasets = sorted({partition_key(doc.dataset) or "" for doc in documents} - {""})
    if datasets:
        instance.add_dynamic_partitions(partitions_name(report.intent), datasets)
    for event in events:
        made = [partition_key(dataset) for dataset in _made_from(event, documents)]
        targets: list[str | None] = [name for name in made if name] or [None]
        for partition in targets:
            yield dg.AssetObservation(
                asset_key=key,
                partition=partition,
                description=f"step {event.step} ({event.kind}): {event.status} "
                f"in {event.seconds:.2f} s",
                metadata=step_metadata(event),
            )
    for doc in documents:
        if doc.status == "duplicate":
            yield dg.AssetObservation(
                asset_key=key,
                partition=partition_key(doc.dataset),
                description=f"unchanged: reproduces version {doc.version}",
                metadata=duplicate_metadata(doc),
            )
        else:
            yield dg.AssetMaterialization(
                asset_key=key,
                partition=partition_key(doc.dataset),
                description=f"version {doc.version}",
                metadata=version_metadata(doc),
            )


def partition_key(dataset: str) -> str | None:
    """The dataset's partition of ``lake/<intent>``; None for a name Dagster refuses as a key.

    Dataset names may hold ``...``, which Dagster forbids in partition keys: such a version is
    reported on the intent's asset as a whole, its ``dataset`` metadata naming it.
    """
    return None if "..." in dataset else dataset


def _made_from(event: StepEvent, documents: Sequence[AssetDocument]) -> list[str]:
    """The datasets of this run made from the step's input file (several for a split input)."""
    if event.file is None:
        return sorted({doc.dataset for doc in documents if doc.dataset == event.dataset})
    # the manifest names the contract's bucket, the record the physical one: compare keys
    key = event.file.split("/", 3)[-1]
    return sorted({doc.dataset for doc in documents if any(item.key == key for item in doc.inputs)})


def failure_metadata(report: RunReport) -> dict[str, dg.MetadataValue]:
    """Why a run failed, where: the error's type, step and file ('-' when it has none)."""
    error = report.error
    assert error is not None  # noqa: S101 - only failed reports are passed
    return {
        "type": dg.MetadataValue.text(error.type or "-"),
        "step": dg.MetadataValue.text(error.step or "-"),
        "file": dg.MetadataValue.text(error.file or "-"),
        "batch_id": dg.MetadataValue.text(report.batch_id),
        "intent": dg.MetadataValue.text(report.intent),
    }


@dg.job(description="Process one committed manifest (one batch) with its intent's plan.")
def ingest_job() -> None:
    """The shared job every manifest runs."""
    ingest_manifest()
