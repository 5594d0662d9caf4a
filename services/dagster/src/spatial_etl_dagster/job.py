"""The one shared job: run the intent of one manifest, report its outputs as assets."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import dagster as dg
from pydantic import Field
from spatial_etl.errors import ConfigurationError
from spatial_etl.run.executor import OutputReport, RunReport
from spatial_etl.run.intake import ManifestRef, run_batch

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
    description="Stage, compute, export, publish and record one manifest's batch.",
    out=dg.Out(dg.Nothing),
)
def ingest_manifest(  # noqa: PLR0917 - Dagster injects config and resources by parameter
    context: dg.OpExecutionContext,
    config: ManifestConfig,
    gdal: GDALResource,
    minio: MinIOResource,
    postgis: PostGISResource,
    ledger: LedgerResource,
) -> Iterator[dg.AssetMaterialization]:
    """Thin adapter over :func:`spatial_etl.run.intake.run_batch`.

    The core records every outcome; this op reports it. It raises when the run failed, when
    the ledger could not record the outcome, or when settling failed (the reconcile sensor
    finishes both), so Dagster's status never says success for a batch that is not settled.
    """
    try:
        with open_platform(gdal, minio, ledger, postgis) as platform:
            report = run_batch(config.ref(), context.run_id, platform)
    except ConfigurationError as error:
        raise dg.Failure(description=str(error)) from None
    yield from materializations(report, platform.store.settings.lake_bucket)
    for problem in report.cleanup_errors:
        context.log.warning(f"cleanup: {problem}")
    if report.status == "failed":
        assert report.error is not None  # noqa: S101 - a failed report says why
        raise dg.Failure(
            description=report.error.message,
            metadata={
                "type": report.error.type or "-",
                "step": report.error.step or "-",
                "file": report.error.file or "-",
            },
        )
    if not report.recorded:
        raise dg.Failure(
            description="the run succeeded but the ledger could not record it; the reconcile "
            "sensor finishes the record"
        )
    context.log.info(f"batch {report.batch_id}: {len(report.outputs)} output(s)")


def materializations(report: RunReport, bucket: str) -> Iterator[dg.AssetMaterialization]:
    """One materialization per output, keyed by intent and dataset: the lake's catalogue."""
    for output in report.outputs:
        yield dg.AssetMaterialization(
            asset_key=[report.intent, output.dataset],
            description=f"version {output.version}"
            + (" (duplicate)" if output.duplicate_of else ""),
            metadata=_metadata(output, bucket),
        )


def _metadata(output: OutputReport, bucket: str) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "s3_uri": dg.MetadataValue.url(f"s3://{bucket}/{output.s3_key}"),
        "sha256": output.sha256,
        "version": output.version,
        "status": output.status,
        "asset_id": output.asset_id,
    }
    if output.duplicate_of:
        metadata["duplicate_of"] = output.duplicate_of
    if output.feature_count is not None:
        metadata["feature_count"] = output.feature_count
    if output.bbox_wgs84 is not None:
        metadata["bbox_wgs84"] = list(output.bbox_wgs84)
    return metadata


@dg.job(description="Process one committed manifest (one batch) with its intent's plan.")
def ingest_job() -> None:
    """The shared job every manifest runs."""
    ingest_manifest()
