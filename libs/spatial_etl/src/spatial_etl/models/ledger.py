"""The ledger's documents (MongoDB collections ``batches``, ``runs`` and ``assets``).

These models are the single source of truth for what the ledger stores: every write validates
a whole document with them and stores ``model_dump(by_alias=True)`` (Python mode, so dates stay
``datetime`` and become BSON dates), and the ledger backend derives the collections'
``$jsonSchema`` validators from them, so the database refuses what the models refuse wherever
JSON Schema can say it. Cross-field rules (a committed asset has a commit date)
live in model validators; the database cannot express them.

Conventions:

- ``_id`` is the document's natural identifier: the batch id, the Dagster run id, and for an
  asset an ObjectId-shaped hex string chosen *before* the upload (:func:`new_asset_id`), because
  the object's S3 metadata must name it. It is stored as a string, not an ObjectId, so the S3
  ``mongodb_doc_id`` metadata and the document agree without conversion.
- Datetimes must be timezone aware; they are kept in UTC at millisecond precision, which is
  what a BSON date holds, so a document read back equals the document written.
- NaN and infinities are refused everywhere (``allow_inf_nan=False``): they are not JSON, and
  ledger documents must survive a JSON export. A raster's non-finite nodata value has its own
  field (:class:`RasterFacts`).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Self

from bson import ObjectId
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    model_validator,
)

from spatial_etl.models.landing import BATCH_ID_PATTERN
from spatial_etl.models.manifest import DATASET_NAME_PATTERN, INTENT_NAME_PATTERN
from spatial_etl.models.problems import Problem

if TYPE_CHECKING:
    from spatial_etl.models.plugin import PluginInfo

SHA256_PATTERN: Final = r"^[0-9a-f]{64}$"
"""A SHA-256 digest as lower-case hex, the form S3's ``content_hash`` metadata carries."""

ASSET_ID_PATTERN: Final = r"^[0-9a-f]{24}$"
"""An asset id: the hex form of a BSON ObjectId (time-ordered, unique without a round trip)."""

S3_URI_PATTERN: Final = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$"
"""``s3://<bucket>/<key>`` with an S3-valid bucket name and a non-empty key."""

BatchStatus = Literal["received", "rejected", "running", "succeeded", "failed"]
RunStatus = Literal["running", "succeeded", "failed"]
AssetStatus = Literal["pending", "committed", "failed", "duplicate"]
NodataSpecial = Literal["nan", "inf", "-inf"]
AssetFormat = Literal["GeoParquet", "COG"]
"""Formats of data at rest: the values of :class:`~spatial_etl.steps.export.ExportFormat`."""

Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN)]
AssetId = Annotated[str, StringConstraints(pattern=ASSET_ID_PATTERN)]
S3Uri = Annotated[str, StringConstraints(pattern=S3_URI_PATTERN)]
IntentName = Annotated[str, StringConstraints(pattern=INTENT_NAME_PATTERN)]
DatasetName = Annotated[str, StringConstraints(pattern=DATASET_NAME_PATTERN)]
BatchId = Annotated[str, StringConstraints(pattern=BATCH_ID_PATTERN)]
RunId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Text = Annotated[str, StringConstraints(min_length=1)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Latitude = Annotated[float, Field(ge=-90, le=90)]


def new_asset_id() -> str:
    """A fresh asset id, created before the upload so the object's metadata can name it."""
    return str(ObjectId())


def utc_millis(value: datetime) -> datetime:
    """Normalise to what a BSON date stores: UTC, millisecond precision."""
    value = value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(utc_millis)]
"""A timezone-aware instant, kept in UTC at millisecond precision (a BSON date)."""


class _Record(BaseModel):
    """Base of every ledger model: strict about keys, frozen, no NaN."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Document(_Record):
    """Base of the three collections' documents.

    The id field has a Python name (``asset_id``...) and the alias ``_id``; both validate, and
    the ledger stores ``model_dump(by_alias=True)``. (``populate_by_name`` rather than 2.11's
    ``validate_by_name``: the core declares Pydantic >= 2.10.)
    """

    model_config = ConfigDict(populate_by_name=True)


class PluginRecord(_Record):
    """The plugin that served an intent, as the ledger keeps it."""

    name: str = Field(description="Entry-point name of the plugin.")
    distribution: str | None = Field(description="Distribution that installed it, if known.")
    version: str | None = Field(description="Version of that distribution, if known.")

    @classmethod
    def from_info(cls, info: PluginInfo) -> Self:
        """The record of a loaded plugin (its entry-point target is not kept)."""
        return cls(name=info.name, distribution=info.distribution, version=info.version)


class InputRecord(_Record):
    """One landing-zone object a run read, with the digest that proves which bytes."""

    path: S3Uri = Field(description="s3://<bucket>/<key> as the manifest lists it.")
    bucket: Text = Field(description="Bucket of the object (the landing zone).")
    key: Text = Field(description="Key of the object within its bucket.")
    sha256: Sha256 = Field(description="SHA-256 of the object's bytes, lower-case hex.")
    size: int = Field(ge=0, description="Size of the object in bytes.")

    @model_validator(mode="after")
    def _path_matches(self) -> Self:
        if self.path != f"s3://{self.bucket}/{self.key}":
            raise ValueError(f"path {self.path!r} is not s3://{self.bucket}/{self.key}")
        return self


class BatchLease(_Record):
    """The run allowed to process a batch; only the holder may publish or settle it."""

    run_id: RunId = Field(description="The Dagster run holding the batch.")
    acquired_at: UtcDatetime = Field(description="When the run took the batch.")


class BatchDocument(_Document):
    """One manifest the sensor saw, accepted or rejected: a rejection never goes unrecorded."""

    batch_id: Annotated[str, StringConstraints(min_length=1, max_length=1024)] = Field(
        alias="_id",
        description="The batch id (the manifest's file stem). Not pattern-checked: a rejected "
        "manifest may be named badly, and is recorded all the same.",
    )
    manifest_key: Text = Field(description="Landing-zone key of the manifest object.")
    manifest_etag: Text = Field(description="ETag of the manifest object that was read.")
    manifest_sha256: Sha256 | None = Field(
        description="SHA-256 of the manifest's bytes; None when it was too large to read."
    )
    manifest_modified: UtcDatetime | None = Field(
        default=None,
        description="Modification time of the manifest object: an identical re-upload (same "
        "ETag) is told apart from the object already examined by it.",
    )
    uploader: str | None = Field(description="The manifest's uploader; None when unreadable.")
    intent: str | None = Field(description="The intent the manifest names; None when unreadable.")
    status: BatchStatus = Field(description="Where the batch is in its life.")
    problems: list[Problem] = Field(
        description="Why the manifest was rejected, one entry per broken rule."
    )
    received_at: UtcDatetime = Field(description="When the sensor first saw the manifest.")
    updated_at: UtcDatetime = Field(description="When the status last changed.")
    run_ids: list[RunId] = Field(description="Dagster runs launched for the batch, in order.")
    manifest: dict[str, JsonValue] | None = Field(
        description="The manifest as parsed JSON; None when it is not a JSON object."
    )
    lease: BatchLease | None = Field(
        default=None,
        description="The run processing the batch while it is running; None otherwise.",
    )

    @model_validator(mode="after")
    def _rejection_has_problems(self) -> Self:
        if (self.status == "rejected") != bool(self.problems):
            raise ValueError("a rejected batch, and only a rejected batch, lists problems")
        if self.lease is not None and self.status != "running":
            raise ValueError("only a running batch is leased to a run")
        return self


class RunError(_Record):
    """Why a run failed, located as precisely as the executor knows."""

    message: Text = Field(description="The error as the user should read it.")
    type: str | None = Field(
        default=None,
        description="The exception's class, e.g. StepError, ValidationError, ProcessDied.",
    )
    step: str | None = Field(default=None, description="Name of the step that failed, if any.")
    file: str | None = Field(default=None, description="The input (s3 URI) being processed.")


class StepRecord(_Record):
    """One step of a run's plan (or its export) that ended, and how long it took."""

    step: Text = Field(description="The step's name, as the intent declares it.")
    kind: Text = Field(description="Its kind: gdal, sql, sql_check, export, a plugin's.")
    file: str | None = Field(default=None, description="The input (s3 URI) it processed.")
    status: Literal["succeeded", "failed"] = Field(description="How the step ended.")
    seconds: Annotated[float, Field(ge=0)] = Field(description="Its wall-clock duration.")


class WorkerRecord(_Record):
    """Where a run's process lives, so a reconciler on the same host can tell it died."""

    host: Text = Field(description="Host name of the run's process (a pod name on Kubernetes).")
    pid: int = Field(ge=1, description="Process id of the run on that host.")


class RunDocument(_Document):
    """One Dagster run of the shared job: what it read, ran, produced, and how long it took."""

    run_id: RunId = Field(alias="_id", description="The Dagster run id.")
    batch_id: BatchId = Field(description="The batch the run processes.")
    intent: IntentName = Field(description="The intent the run executes.")
    plugin: PluginRecord = Field(description="The plugin that registered the intent.")
    status: RunStatus = Field(description="running until the run finishes, then its outcome.")
    started_at: UtcDatetime = Field(description="When the run started.")
    finished_at: UtcDatetime | None = Field(description="When the run finished; None if running.")
    error: RunError | None = Field(description="Why the run failed; None unless it failed.")
    inputs: list[InputRecord] = Field(description="Landing objects the run read.")
    outputs: list[AssetId] = Field(description="Ids of the asset documents the run wrote.")
    timings: dict[str, Annotated[float, Field(ge=0)]] = Field(
        description="Seconds spent per stage (stage, compute, export, publish...)."
    )
    steps: list[StepRecord] = Field(
        default_factory=list,
        description="The plan's steps that ended, in order, each with its duration "
        "(at most the first 1000).",
    )
    versions: dict[str, str] = Field(
        description="Versions of what ran: gdal, postgis, spatial-etl, the plugin..."
    )
    worker: WorkerRecord | None = Field(
        default=None, description="The run's process: host and pid; None for older records."
    )
    cleanup_errors: list[Text] = Field(
        default_factory=list,
        description="What could not be cleaned up (a schema, a work directory); the "
        "reconciler finishes it. Never the cause of a failure.",
    )

    @model_validator(mode="after")
    def _outcome_is_consistent(self) -> Self:
        if (self.status == "running") != (self.finished_at is None):
            raise ValueError("finished_at is set exactly when the run is no longer running")
        if (self.status == "failed") != (self.error is not None):
            raise ValueError("error is set exactly when the run failed")
        return self


class RasterFacts(_Record):
    """Shape and encoding of a raster asset.

    GDAL's nodata may be NaN or an infinity, which JSON cannot carry and which never compares
    equal to itself. Such a value is stored as ``nodata=None`` with ``nodata_special`` naming it;
    pass the raw float as ``nodata`` and the model splits it. :attr:`nodata_value` gives the
    float back.
    """

    width: int = Field(ge=1, description="Width in pixels.")
    height: int = Field(ge=1, description="Height in pixels.")
    bands: int = Field(ge=1, description="Number of bands.")
    dtype: Text = Field(description="GDAL data type name of the bands, e.g. Byte, Float32.")
    nodata: float | None = Field(
        description="Finite nodata value of the bands; None when there is none or it is special."
    )
    nodata_special: NodataSpecial | None = Field(
        default=None, description="Set when the nodata value is NaN, inf or -inf."
    )

    @model_validator(mode="before")
    @classmethod
    def _split_special_nodata(cls, data: Any) -> Any:
        value = data.get("nodata") if isinstance(data, dict) else None
        if isinstance(value, float) and not math.isfinite(value):
            special = "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
            return {**data, "nodata": None, "nodata_special": special}
        return data

    @model_validator(mode="after")
    def _one_nodata(self) -> Self:
        if self.nodata is not None and self.nodata_special is not None:
            raise ValueError("nodata and nodata_special are exclusive")
        return self

    @property
    def nodata_value(self) -> float | None:
        """The nodata value as GDAL means it (NaN and infinities included)."""
        return float(self.nodata_special) if self.nodata_special else self.nodata


class ColumnInfo(_Record):
    """One column of a GeoParquet asset."""

    name: Text = Field(description="Column name.")
    type: Text = Field(description="Arrow type of the column, e.g. int64, string, binary.")


class GeographicExtent(_Record):
    """Bounding box in WGS84 degrees; west > east when it crosses the antimeridian."""

    west: Longitude = Field(description="Westernmost longitude.")
    south: Latitude = Field(description="Southernmost latitude.")
    east: Longitude = Field(description="Easternmost longitude.")
    north: Latitude = Field(description="Northernmost latitude.")


class Lineage(_Record):
    """How the asset was made (ISO 19115 LI_Lineage)."""

    statement: Text = Field(description="One paragraph: inputs, intent, plugin, run.")
    steps: list[str] = Field(description="The steps that ran, each with its description.")


class Distribution(_Record):
    """Where and in which format the asset can be read (ISO 19115 MD_Distribution)."""

    format: AssetFormat = Field(description="GeoParquet or COG.")
    s3_uri: S3Uri = Field(description="s3://<bucket>/<key> of the object.")


class Iso19115Metadata(_Record):
    """The ISO 19115-style description of an asset, the part a catalogue would show."""

    title: Text = Field(description="Title of the dataset version.")
    abstract: str = Field(description="What the data is, from the manifest's description.")
    extent: GeographicExtent | None = Field(description="Geographic extent, if known.")
    reference_system: Text = Field(description="CRS of the data, e.g. EPSG:4326.")
    lineage: Lineage = Field(description="How the asset was produced.")
    distribution: Distribution = Field(description="Where the asset is.")


class Provenance(_Record):
    """The manifest's facts about the data, kept with every version and its metadata."""

    project: str | None = Field(default=None, description="metadata.project of the manifest.")
    uploader: str | None = Field(default=None, description="Who uploaded the batch.")
    description: str | None = Field(
        default=None, description="metadata.description: what the data is, in the user's words."
    )


SidecarRole = Literal["iso19139", "thumbnail", "stac_item"]
"""What a sidecar object is: the ISO 19139 record, the quicklook PNG, or the STAC Item."""


class Sidecar(_Record):
    """A metadata object derived from one asset version, stored in the lake bucket.

    Sidecars are uploaded while the asset is pending, each tagged with the asset's id and
    hash like the data object, so they share its fate: committed together, or deleted
    together.
    """

    role: SidecarRole = Field(description="iso19139, thumbnail or stac_item.")
    key: Text = Field(description="Key of the object in the asset's bucket.")
    sha256: Sha256 = Field(description="SHA-256 of the object's bytes.")
    size: int = Field(ge=0, description="Size of the object in bytes.")
    media_type: Text = Field(description="Content type of the object.")


class AssetDocument(_Document):
    """One version of one dataset in the lake, linked both ways with its S3 object.

    Life: ``pending`` (id created, upload in progress) then ``committed`` (object uploaded and
    verified) or ``failed``. A reader trusts only committed documents. ``duplicate`` records a
    run whose output equals an existing version (``duplicate_of``); it owns no object.
    """

    asset_id: AssetId = Field(alias="_id", description="Asset id, also the object's metadata.")
    status: AssetStatus = Field(description="pending, committed, failed or duplicate.")
    intent: IntentName = Field(description="The intent that produced the asset.")
    dataset: DatasetName = Field(description="Dataset name in the lake.")
    version: int = Field(ge=1, description="Version of the dataset; a new version, a new key.")
    bucket: Text = Field(description="Lake bucket of the object.")
    s3_key: Text = Field(description="Key of the object in the bucket.")
    sha256: Sha256 = Field(description="SHA-256 of the object's bytes (content_hash).")
    size: int = Field(ge=0, description="Size of the object in bytes.")
    format: AssetFormat = Field(description="GeoParquet (vector) or COG (raster).")
    crs: Text = Field(description="CRS of the data, e.g. EPSG:4326.")
    bbox_wgs84: tuple[Longitude, Latitude, Longitude, Latitude] | None = Field(
        description="(west, south, east, north) in WGS84 degrees; None when unknown."
    )
    feature_count: Annotated[int, Field(ge=0)] | None = Field(
        description="Features in a vector asset; else None."
    )
    raster: RasterFacts | None = Field(description="Raster facts of a COG; None for vectors.")
    columns: list[ColumnInfo] = Field(description="Columns of a GeoParquet; empty for a COG.")
    run_id: RunId = Field(description="The Dagster run that produced the asset.")
    batch_id: BatchId = Field(description="The batch whose manifest asked for it.")
    plugin: PluginRecord = Field(description="The plugin that registered the intent.")
    inputs: list[InputRecord] = Field(description="Landing objects the asset was made from.")
    parameters: dict[str, JsonValue] = Field(description="The intent parameters of the run.")
    duplicate_of: AssetId | None = Field(
        description="For a duplicate: the committed asset whose content this run reproduced."
    )
    failure: str | None = Field(default=None, description="Why a failed publish failed.")
    iso19115: Iso19115Metadata = Field(description="ISO 19115-style metadata.")
    provenance: Provenance = Field(
        default_factory=Provenance, description="Project, uploader and description of the batch."
    )
    sidecars: list[Sidecar] = Field(
        default_factory=list,
        description="Metadata objects of this version (ISO record, quicklook, STAC Item).",
    )
    created_at: UtcDatetime = Field(description="When the document was created.")
    committed_at: UtcDatetime | None = Field(description="When it was committed; else None.")
    catalogued_at: UtcDatetime | None = Field(
        default=None,
        description="When the dataset's STAC Collection and the root Catalog were last "
        "rewritten with this version committed; None until then.",
    )

    def sidecar(self, role: SidecarRole) -> Sidecar | None:
        """This version's sidecar in ``role``, if it has one."""
        return next((item for item in self.sidecars if item.role == role), None)

    @property
    def object_keys(self) -> list[str]:
        """Every lake key this version owns: the data object, then its sidecars."""
        return [self.s3_key, *(item.key for item in self.sidecars)]

    @property
    def s3_uri(self) -> str:
        """``s3://<bucket>/<key>`` of the object."""
        return f"s3://{self.bucket}/{self.s3_key}"

    @model_validator(mode="after")
    def _status_fields(self) -> Self:
        if (self.status == "committed") != (self.committed_at is not None):
            raise ValueError("committed_at is set exactly when the asset is committed")
        if (self.status == "duplicate") != (self.duplicate_of is not None):
            raise ValueError("duplicate_of is set exactly when the asset is a duplicate")
        if (self.status == "failed") != (self.failure is not None):
            raise ValueError("failure is set exactly when the asset failed")
        return self

    @model_validator(mode="after")
    def _format_fields(self) -> Self:
        raster = self.format == "COG"
        if raster != (self.raster is not None):
            raise ValueError("raster facts are set exactly for a COG")
        if raster and (self.feature_count is not None or self.columns):
            raise ValueError("a COG has no feature_count or columns")
        if self.iso19115.distribution.s3_uri != self.s3_uri:
            raise ValueError("iso19115.distribution.s3_uri must be the asset's s3 URI")
        if self.iso19115.distribution.format != self.format:
            raise ValueError("iso19115.distribution.format must be the asset's format")
        return self

    @model_validator(mode="after")
    def _extent_is_the_bbox(self) -> Self:
        # The ledger searches assets by iso19115.extent (numeric fields an index can hold),
        # so the extent must say exactly what bbox_wgs84 says.
        box = self.bbox_wgs84
        extent = self.iso19115.extent
        expected = None if box is None else (box[0], box[1], box[2], box[3])
        found = None if extent is None else (extent.west, extent.south, extent.east, extent.north)
        if found != expected:
            raise ValueError(
                f"iso19115.extent must be bbox_wgs84 {expected} (west, south, east, north), "
                f"not {found}"
            )
        return self

    @model_validator(mode="after")
    def _sidecars_distinct(self) -> Self:
        roles = [item.role for item in self.sidecars]
        if len(set(roles)) != len(roles):
            raise ValueError(f"one sidecar per role, not {roles}")
        keys = self.object_keys
        if len(set(keys)) != len(keys):
            raise ValueError(f"the asset's objects need distinct keys, not {keys}")
        if self.catalogued_at is not None and self.status != "committed":
            raise ValueError("only a committed asset is catalogued")
        return self
