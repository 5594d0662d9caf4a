"""What the Dagster UI shows of a lake version, built from its ledger document alone.

One function per kind of event, each a pure function of core models so they are tested
without Dagster running: :func:`version_metadata` for a committed version (a
materialization of ``lake/<intent>`` partition ``<dataset>``), :func:`duplicate_metadata` for
a run that reproduced a version (an observation: the lake did not change, so nothing was
materialized), :func:`step_metadata` for a step that ran, :func:`landing_metadata` for the
batch a run read (an observation of ``landing/<intent>``).

Object locations are ``s3://bucket/key`` text (path metadata): the lake is on-premise S3, which
a browser cannot open from a link, and the text is what a user pastes into a client. The
column schema uses Dagster's own key (``dagster/column_schema``), so the UI lists the columns
in the asset's overview; the feature count is also ``dagster/row_count`` for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import dagster as dg
from spatial_etl.models.ledger import AssetDocument, InputRecord, SidecarRole
from spatial_etl.run.executor import OutputReport
from spatial_etl.run.step_events import StepEvent

SIDECAR_LABELS: Final[dict[SidecarRole, str]] = {
    "stac_item": "stac_item",
    "iso19139": "iso19139_record",
    "thumbnail": "quicklook",
}
"""Metadata key of each sidecar role: the STAC Item, the ISO 19139 record, the quicklook."""


def version_metadata(doc: AssetDocument) -> dict[str, dg.MetadataValue]:
    """Everything the ledger knows about one version, as Dagster metadata values."""
    metadata: dict[str, dg.MetadataValue] = {
        "dataset": dg.MetadataValue.text(doc.dataset),
        "ledger_id": dg.MetadataValue.text(doc.asset_id),
        "version": dg.MetadataValue.int(doc.version),
        "status": dg.MetadataValue.text(doc.status),
        "s3_uri": dg.MetadataValue.path(doc.s3_uri),
        "sha256": dg.MetadataValue.text(doc.sha256),
        "format": dg.MetadataValue.text(doc.format),
        "size_bytes": dg.MetadataValue.int(doc.size),
        "crs": dg.MetadataValue.text(doc.crs),
        "run_id": dg.MetadataValue.dagster_run(doc.run_id),
        "batch_id": dg.MetadataValue.text(doc.batch_id),
        "plugin": dg.MetadataValue.text(
            f"{doc.plugin.distribution or doc.plugin.name}=={doc.plugin.version or 'unknown'}"
        ),
    }
    if doc.bbox_wgs84 is not None:
        metadata["bbox_wgs84"] = dg.MetadataValue.json(list(doc.bbox_wgs84))
    if doc.feature_count is not None:
        metadata["feature_count"] = dg.MetadataValue.int(doc.feature_count)
        metadata["dagster/row_count"] = dg.MetadataValue.int(doc.feature_count)
    if doc.columns:
        columns = [dg.TableColumn(name=column.name, type=column.type) for column in doc.columns]
        metadata["dagster/column_schema"] = dg.MetadataValue.table_schema(
            dg.TableSchema(columns=columns)
        )
    if doc.raster is not None:
        raster = doc.raster
        metadata["width"] = dg.MetadataValue.int(raster.width)
        metadata["height"] = dg.MetadataValue.int(raster.height)
        metadata["bands"] = dg.MetadataValue.int(raster.bands)
        metadata["dtype"] = dg.MetadataValue.text(raster.dtype)
        nodata = raster.nodata_special or (None if raster.nodata is None else repr(raster.nodata))
        metadata["nodata"] = dg.MetadataValue.text(nodata or "none")
    provenance = doc.provenance
    for name, value in (
        ("project", provenance.project),
        ("uploader", provenance.uploader),
        ("description", provenance.description),
    ):
        if value:
            metadata[name] = dg.MetadataValue.text(value)
    for sidecar in doc.sidecars:
        metadata[SIDECAR_LABELS[sidecar.role]] = dg.MetadataValue.path(
            f"s3://{doc.bucket}/{sidecar.key}"
        )
    if doc.duplicate_of is not None:
        metadata["duplicate_of"] = dg.MetadataValue.text(doc.duplicate_of)
    return metadata


def duplicate_metadata(doc: AssetDocument) -> dict[str, dg.MetadataValue]:
    """A run that reproduced a version: which version, and this run's own record of it.

    A duplicate document copies the version it reproduced (number, key, hash, sidecars), so
    the metadata names that version and its object; ``ledger_id`` is the duplicate's record.
    """
    metadata = version_metadata(doc)
    metadata["reproduced_version"] = dg.MetadataValue.int(doc.version)
    return metadata


def step_metadata(event: StepEvent) -> dict[str, dg.MetadataValue]:
    """One step that ran: its name, kind, duration and outcome, and what it processed."""
    metadata: dict[str, dg.MetadataValue] = {
        "step": dg.MetadataValue.text(event.step),
        "kind": dg.MetadataValue.text(event.kind),
        "status": dg.MetadataValue.text(event.status),
        "duration_s": dg.MetadataValue.float(round(event.seconds, 3)),
    }
    if event.file is not None:
        metadata["file"] = dg.MetadataValue.path(event.file)
    if event.dataset is not None:
        metadata["dataset"] = dg.MetadataValue.text(event.dataset)
    if event.error is not None:
        metadata["error"] = dg.MetadataValue.text(event.error)
    return metadata


def landing_metadata(batch_id: str, inputs: Sequence[InputRecord]) -> dict[str, dg.MetadataValue]:
    """The batch a run read from the landing zone: each object with its hash and size."""
    columns = [dg.TableColumn("path"), dg.TableColumn("sha256"), dg.TableColumn("size", "int")]
    records = [
        dg.TableRecord({"path": item.path, "sha256": item.sha256, "size": item.size})
        for item in inputs
    ]
    return {
        "batch_id": dg.MetadataValue.text(batch_id),
        "objects": dg.MetadataValue.int(len(inputs)),
        "inputs": dg.MetadataValue.table(records, schema=dg.TableSchema(columns=columns)),
    }


def output_metadata(output: OutputReport, bucket: str) -> dict[str, dg.MetadataValue]:
    """What the run's report says of a version whose ledger document could not be read."""
    metadata: dict[str, dg.MetadataValue] = {
        "dataset": dg.MetadataValue.text(output.dataset),
        "ledger_id": dg.MetadataValue.text(output.asset_id),
        "version": dg.MetadataValue.int(output.version),
        "status": dg.MetadataValue.text(output.status),
        "s3_uri": dg.MetadataValue.path(f"s3://{bucket}/{output.s3_key}"),
        "sha256": dg.MetadataValue.text(output.sha256),
    }
    if output.duplicate_of is not None:
        metadata["duplicate_of"] = dg.MetadataValue.text(output.duplicate_of)
    return metadata
