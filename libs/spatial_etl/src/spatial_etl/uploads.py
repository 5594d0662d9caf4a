"""Upload a local directory as a batch, following the user protocol: files first, manifest last.

Two halves, so that everything that can be wrong is found before a byte is sent:

- :func:`plan_upload` (offline: reads the directory, and GDAL only when the CRS must be read
  from the files) decides which files go where, writes the manifest and validates it with
  :func:`~spatial_etl.run.validation.check_manifest`; every problem is reported at once as an
  :class:`~spatial_etl.errors.UploadError`.
- :func:`execute_upload` sends the plan: every file under ``<batch_id>/`` in the landing
  bucket, then, only if all of them arrived, ``manifests/<batch_id>.json``. Uploading the
  manifest is what commits the batch, so a failed file leaves the batch uncommitted and nothing
  runs.

File types come from the extension (:data:`EXTENSION_FORMATS`). A plain shapefile's sidecars
(``.shx``, ``.dbf``, ``.prj``...) are uploaded beside it but not listed: the manifest declares
a shapefile by its ``.shp``. The manifest's paths always name the contract's logical bucket
(``s3://landing-zone/...``) whatever the physical landing bucket is called.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, Final, Protocol

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError
from pyproj import CRS
from pyproj.exceptions import CRSError

from spatial_etl.backends.storage import ObjectStore, StoredObject
from spatial_etl.errors import (
    IntentConflictError,
    SpatialEtlError,
    StorageError,
    UnknownIntentError,
    UploadError,
)
from spatial_etl.models.crs import crs_problem, same_crs
from spatial_etl.models.drivers import FILE_DRIVERS
from spatial_etl.models.kinds import FileType
from spatial_etl.models.landing import (
    LANDING_BUCKET,
    MANIFESTS_PREFIX,
    batch_id_problem,
    parse_landing_path,
)
from spatial_etl.models.problems import Problem
from spatial_etl.plugins.registry import IntentCatalog, RegisteredIntent
from spatial_etl.run.staging import ARCHIVE_SUFFIXES, SHAPEFILE_REQUIRED
from spatial_etl.run.validation import ManifestReport, check_manifest
from spatial_etl.spatial_utils import GdalRunner, read_raster_info, read_vector_info

EXTENSION_FORMATS: Final[Mapping[str, tuple[FileType, str]]] = {
    ".tif": (FileType.RASTER, "GTiff"),
    ".tiff": (FileType.RASTER, "GTiff"),
    ".jp2": (FileType.RASTER, "JP2OpenJPEG"),
    ".gpkg": (FileType.VECTOR, "GPKG"),
    ".geojson": (FileType.VECTOR, "GeoJSON"),
    ".json": (FileType.VECTOR, "GeoJSON"),
    ".fgb": (FileType.VECTOR, "FlatGeobuf"),
    ".shp": (FileType.VECTOR, "ESRI Shapefile"),
    ".zip": (FileType.VECTOR, "ESRI Shapefile"),
    ".shz": (FileType.VECTOR, "ESRI Shapefile"),
}
"""Type and GDAL driver of a file by its extension (lower-cased); others need an override."""

SHAPEFILE_SIDECARS: Final = (
    ".shp.xml",
    ".shx",
    ".dbf",
    ".prj",
    ".cpg",
    ".qpj",
    ".qix",
    ".sbn",
    ".sbx",
    ".fix",
    ".atx",
    ".ain",
    ".aih",
)
"""Files that belong to the ``.shp`` of the same stem: uploaded beside it, never listed.

Staging fetches every ``<stem>.*`` object beside a ``.shp``, so they reach GDAL together."""

MAX_KEY_BYTES: Final = 1024
"""S3's limit on the length of a key, in UTF-8 bytes."""

_OPTION_OF: Final = {
    "batch_id": "--batch-id",
    "uploader": "--uploader",
    "intent": "--intent",
    "metadata.project": "--project",
    "metadata.description": "--description",
    "metadata.dataset": "--dataset",
    "metadata.parameters": "--param",
}


class FormatOverride(BaseModel):
    """``PATTERN=[TYPE:]DRIVER``: files matching ``PATTERN`` are ``DRIVER`` files.

    ``PATTERN`` is a glob matched against the path relative to the directory or, when it holds
    no ``/``, against each name in that path (a file name, or a folder's). ``TYPE``
    (``raster`` or ``vector``) is needed only for a driver that reads both, when the
    extension does not tell.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    pattern: str = Field(min_length=1)
    type: FileType | None = None
    format: str

    @classmethod
    def parse(cls, text: str) -> FormatOverride:
        """Parse ``PATTERN=[TYPE:]DRIVER``; raise ``ValueError`` saying what is wrong."""
        pattern, sep, target = text.partition("=")
        if not sep or not pattern or not target:
            raise ValueError(f"{text!r} is not PATTERN=DRIVER (e.g. '*.asc=AAIGrid')")
        kind: FileType | None = None
        head, colon, driver = target.partition(":")
        if colon and head in {t.value for t in FileType}:
            kind = FileType(head)
        else:
            driver = target
        if driver not in FILE_DRIVERS:
            matches = [name for name in FILE_DRIVERS if name.lower() == driver.lower()]
            hint = f" (did you mean {matches[0]!r}?)" if matches else ""
            raise ValueError(f"{driver!r} is not a GDAL file driver short name{hint}")
        if kind is not None and kind not in FILE_DRIVERS[driver]:
            raise ValueError(f"{driver!r} does not read {kind.value} data")
        return cls(pattern=pattern, type=kind, format=driver)

    def matches(self, relative: str) -> bool:
        """Whether the file at ``relative`` (POSIX, relative to the directory) matches."""
        return _glob_matches(self.pattern, relative)

    def file_type(self, default: FileType | None) -> FileType | None:
        """The type a matching file is declared as; None when that is left open.

        The override's own type, else the driver's only type, else the extension's type when
        the driver reads it.
        """
        if self.type is not None:
            return self.type
        types = FILE_DRIVERS[self.format]
        if len(types) == 1:
            return next(iter(types))
        return default if default in types else None


class UploadRequest(BaseModel):
    """What the user asks for: the batch's identity, metadata and how to read the files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    batch_id: str
    intent: str
    uploader: str
    project: str | None = Field(default=None, description="None leaves the manifest invalid.")
    description: str = ""
    dataset: str | None = None
    crs: str | None = Field(default=None, description="CRS of every file; None reads each's.")
    parameters: dict[str, str] = Field(
        default_factory=dict, description="Intent parameters as typed on the command line."
    )
    format_overrides: tuple[FormatOverride, ...] = ()
    exclude: tuple[str, ...] = Field(default=(), description="Globs of files not to upload.")


class PlannedUpload(BaseModel):
    """One local file and the landing key it goes to."""

    model_config = ConfigDict(frozen=True)

    source: Path
    relative: str = Field(description="Path relative to the directory, POSIX separators.")
    key: str = Field(description="Key in the landing bucket: <batch_id>/<relative>.")
    size: int = Field(ge=0)
    type: FileType | None = Field(description="None for a sidecar (uploaded, not listed).")
    format: str | None = Field(description="GDAL driver; None for a sidecar.")

    @property
    def listed(self) -> bool:
        """Whether the manifest lists the file (sidecars are not listed)."""
        return self.format is not None


class UploadPlan(BaseModel):
    """Everything :func:`execute_upload` sends, decided and validated beforehand."""

    model_config = ConfigDict(frozen=True)

    batch_id: str
    bucket: str = Field(description="Physical landing bucket (SPATIAL_ETL_LANDING_BUCKET).")
    manifest_key: str = Field(description="manifests/<batch_id>.json, uploaded last.")
    manifest: dict[str, JsonValue]
    uploads: tuple[PlannedUpload, ...]

    def manifest_bytes(self) -> bytes:
        """The manifest exactly as it is validated and uploaded."""
        return (json.dumps(self.manifest, indent=2, ensure_ascii=False) + "\n").encode()

    @property
    def total_size(self) -> int:
        """Bytes of every file (the manifest excluded)."""
        return sum(item.size for item in self.uploads)

    def describe(self) -> dict[str, Any]:
        """The plan as JSON: where each file goes, and the manifest."""
        return {
            "bucket": self.bucket,
            "manifest_key": self.manifest_key,
            "uploads": [
                {
                    "source": str(item.source),
                    "key": item.key,
                    "size": item.size,
                    "listed": item.listed,
                    "type": item.type.value if item.type else None,
                    "format": item.format,
                }
                for item in self.uploads
            ],
            "manifest": self.manifest,
        }


class UploadFailure(BaseModel):
    """A file (or the manifest) that did not reach the store, and why."""

    model_config = ConfigDict(frozen=True)

    key: str
    source: Path | None = Field(description="The local file; None for the manifest.")
    message: str


class UploadResult(BaseModel):
    """What :func:`execute_upload` did. The batch is committed exactly when ``manifest`` is set."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    uploaded: list[StoredObject]
    failures: list[UploadFailure]
    manifest: StoredObject | None = Field(description="The committed manifest; None if not.")
    stale_keys: list[str] = Field(
        description="Objects already under <batch_id>/ that this upload did not write."
    )

    @property
    def committed(self) -> bool:
        """Whether the manifest was uploaded, i.e. the batch will run."""
        return self.manifest is not None


class UploadProgress(Protocol):
    """Told about each file as it is sent (the command line draws a progress bar)."""

    def started(self, item: PlannedUpload) -> None:
        """``item`` is about to be uploaded."""

    def finished(self, item: PlannedUpload, error: str | None) -> None:
        """``item`` is done: ``error`` is None when it arrived."""


CrsReader = Callable[[Path, FileType], str | None]
"""Reads a local file's CRS (see :func:`read_file_crs`); None when the file has none."""


# ----------------------------------------------------------------------------- planning


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``key=value`` (the value may contain ``=``); raise ``ValueError`` otherwise."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{text!r} is not key=value")
    return key.strip(), value


def typed_parameters(
    raw: Mapping[str, str], registered: RegisteredIntent | None
) -> dict[str, JsonValue]:
    """Turn command-line text into manifest parameter values.

    A value that parses as JSON (``0.5``, ``true``, ``["a","b"]``) becomes that value, any
    other stays text. When the intent's model refuses the parsed value but the value was
    text originally (``--param layer=2020`` for a ``str`` parameter), the text is kept.
    """
    typed: dict[str, JsonValue] = {key: _json_or_text(value) for key, value in raw.items()}
    model = registered.intent.parameters if registered is not None else None
    if model is None:
        return typed
    try:
        model.model_validate(typed)
    except ValidationError as error:
        refused = {item["loc"][0] for item in error.errors() if item["loc"]}
        for key in refused:
            if isinstance(key, str) and key in raw and typed[key] != raw[key]:
                typed[key] = raw[key]
    return typed


def plan_upload(
    directory: Path,
    request: UploadRequest,
    *,
    landing_bucket: str,
    catalog: IntentCatalog | None = None,
    crs_of: CrsReader | None = None,
) -> UploadPlan:
    """Decide what to upload from ``directory`` and write the manifest; send nothing.

    Every regular file below ``directory`` is uploaded, except hidden files and folders (a
    name starting with ``.``) and files matching ``request.exclude``. The manifest lists the
    data files in path order with the type and driver of their extension (or of a
    :class:`FormatOverride`) and ``request.crs``, or the file's own CRS read with ``crs_of``.
    The manifest is then validated with :func:`check_manifest` (against ``catalog`` when
    given: intent, accepted drivers, parameters).

    Raises:
        UploadError: Listing every problem: unknown file types, a sidecar without its
            ``.shp`` or a ``.shp`` without its ``.shx``/``.dbf``, keys S3 or the manifest
            rules refuse, an override matching nothing, a missing CRS, and then every
            problem of the generated manifest (file problems located by the file's path).
    """
    problem = batch_id_problem(request.batch_id)
    if problem:
        raise UploadError(
            "invalid batch id",
            [Problem(loc="batch_id (--batch-id)", code="batch_id", message=problem)],
        )
    if not directory.is_dir():
        raise UploadError(
            f"{directory} is not a directory",
            [Problem(loc=str(directory), code="not_a_directory", message="not a directory")],
        )
    problems: list[Problem] = []
    files = scan_directory(directory, request.exclude)
    uploads = _classify(files, request, problems)
    for item in uploads:
        problems.extend(_key_problems(item))
    for override in request.format_overrides:
        if not any(override.matches(relative) for relative, _ in files):
            problems.append(
                Problem(
                    loc="--format-override",
                    code="override_unused",
                    message=f"{override.pattern!r} matches no file",
                )
            )
    listed = [item for item in uploads if item.listed]
    if not listed and not problems:
        problems.append(
            Problem(loc=str(directory), code="no_data_files", message="no data file to upload")
        )
    crs_by_file = _crs_of_files(listed, request.crs, crs_of, problems)
    if problems:
        raise UploadError(_summary(problems), problems)

    manifest = _manifest(request, listed, crs_by_file, catalog)
    plan = UploadPlan(
        batch_id=request.batch_id,
        bucket=landing_bucket,
        manifest_key=f"{MANIFESTS_PREFIX}/{request.batch_id}.json",
        manifest=manifest,
        uploads=tuple(uploads),
    )
    report = check_upload(plan, catalog)
    if not report.valid:
        problems = [_locate(item, listed) for item in report.problems]
        raise UploadError(f"the generated manifest is invalid: {_summary(problems)}", problems)
    return plan


def check_upload(plan: UploadPlan, catalog: IntentCatalog | None) -> ManifestReport:
    """Validate the plan's manifest bytes as the sensor will: named ``<batch_id>.json``."""
    return check_manifest(plan.manifest_bytes(), source=f"{plan.batch_id}.json", catalog=catalog)


def scan_directory(directory: Path, exclude: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """Regular files below ``directory`` as (POSIX relative path, path), sorted by path.

    Hidden files and folders are skipped, and so are files matching an ``exclude`` glob
    (matched like a :class:`FormatOverride` pattern: ``*.xml``, ``scratch``, ``raw/*.tif``).
    Symbolic links to files are followed; links to folders are not.
    """
    found: list[tuple[str, Path]] = []
    for root, folders, names in os.walk(directory):
        folders[:] = sorted(name for name in folders if not name.startswith("."))
        for name in names:
            path = Path(root, name)
            if name.startswith(".") or not path.is_file():
                continue
            relative = path.relative_to(directory).as_posix()
            if any(_glob_matches(pattern, relative) for pattern in exclude):
                continue
            found.append((relative, path))
    return sorted(found)


def read_file_crs(runner: GdalRunner, path: Path, file_type: FileType) -> str | None:
    """A local file's CRS as ``EPSG:n`` when PROJ identifies it exactly, else WKT2.

    Rasters are read with ``gdalinfo``, vectors with ``ogrinfo`` (zips through
    ``/vsizip/``). None when the file has no CRS.

    Raises:
        GdalError: GDAL could not open the file.
        UploadError: The file's layers have different CRSs.
    """
    source = str(path)
    if path.suffix.lower() in ARCHIVE_SUFFIXES:
        source = f"/vsizip/{path}"
    if file_type is FileType.RASTER:
        wkt = read_raster_info(runner, source).crs_wkt
        found = [wkt] if wkt else []
    else:
        found = [
            layer.crs_wkt for layer in read_vector_info(runner, source).layers if layer.crs_wkt
        ]
    if not found:
        return None
    if any(not same_crs(found[0], other) for other in found[1:]):
        raise UploadError(f"{path.name}: its layers have different CRSs; pass one with --crs")
    return crs_code(found[0])


def crs_code(definition: str) -> str:
    """``EPSG:n`` when that code is exactly ``definition`` (axis order aside), else WKT2."""
    crs = CRS.from_user_input(definition)
    code = crs.to_epsg(min_confidence=70)
    with contextlib.suppress(CRSError):  # a code PROJ cannot build is no match
        if code is not None and CRS.from_epsg(code).equals(crs, ignore_axis_order=True):
            return f"EPSG:{code}"
    return str(crs.to_wkt())


# ----------------------------------------------------------------------------- sending


def execute_upload(
    store: ObjectStore,
    plan: UploadPlan,
    *,
    replace: bool = False,
    progress: UploadProgress | None = None,
) -> UploadResult:
    """Upload the plan's files, then its manifest, but only if every file arrived.

    First the landing bucket is listed under ``<batch_id>/`` (which fails early on a missing
    bucket, bad credentials or an unreachable store) and the manifest's key is checked: a
    manifest still there means the batch is committed and maybe running, and uploading
    files under it would change its inputs, so that is refused unless ``replace``. Files go
    up one by one; a failure is recorded and the others still go, so one run reports every
    failure. The manifest goes last, and not at all after a failure: the batch then stays
    uncommitted and nothing runs. Running the same upload again is safe.

    Raises:
        StorageError: The landing bucket cannot be listed (nothing was uploaded).
        UploadError: The batch's manifest exists and ``replace`` is False (nothing uploaded).
    """
    existing = {item.key for item in store.iter_objects(plan.bucket, prefix=f"{plan.batch_id}/")}
    if not replace and store.head(plan.bucket, plan.manifest_key) is not None:
        raise UploadError(
            f"batch {plan.batch_id!r} is already committed: s3://{plan.bucket}/"
            f"{plan.manifest_key} exists (it may be waiting or running). Upload under a new "
            "batch id, or replace it deliberately (--replace)"
        )
    uploaded: list[StoredObject] = []
    failures: list[UploadFailure] = []
    for item in plan.uploads:
        if progress is not None:
            progress.started(item)
        error: str | None = None
        try:
            uploaded.append(store.put_file(plan.bucket, item.key, item.source, metadata={}))
        except (StorageError, OSError) as caught:
            error = str(caught)
            failures.append(UploadFailure(key=item.key, source=item.source, message=error))
        if progress is not None:
            progress.finished(item, error)
    manifest: StoredObject | None = None
    if not failures:
        try:
            manifest = store.put_bytes(
                plan.bucket,
                plan.manifest_key,
                plan.manifest_bytes(),
                metadata={},
                content_type="application/json",
            )
        except StorageError as caught:
            failures.append(UploadFailure(key=plan.manifest_key, source=None, message=str(caught)))
    written = {item.key for item in plan.uploads}
    return UploadResult(
        bucket=plan.bucket,
        uploaded=uploaded,
        failures=failures,
        manifest=manifest,
        stale_keys=sorted(existing - written),
    )


# ----------------------------------------------------------------------------- internals


def _glob_matches(pattern: str, relative: str) -> bool:
    """Match the whole relative path, or, for a pattern without ``/``, any name in it.

    So ``*.xml`` matches such files anywhere and ``scratch`` a folder and all below it.
    """
    if "/" not in pattern:
        return any(fnmatch.fnmatchcase(part, pattern) for part in relative.split("/"))
    return fnmatch.fnmatchcase(relative, pattern)


def _json_or_text(value: str) -> JsonValue:
    try:
        parsed: JsonValue = json.loads(value)
    except ValueError:
        return value
    return parsed


def _sidecar_suffix(name: str) -> str | None:
    lowered = name.lower()
    for suffix in SHAPEFILE_SIDECARS:
        if lowered.endswith(suffix) and len(name) > len(suffix):
            return suffix
    return None


def _classify(
    files: Sequence[tuple[str, Path]], request: UploadRequest, problems: list[Problem]
) -> list[PlannedUpload]:
    """Give each file its type and driver, or mark it a sidecar; record what cannot be."""
    shapefiles = {
        relative[: -len(".shp")]
        for relative, _ in files
        if relative.lower().endswith(".shp") and not _overridden(relative, request)
    }
    uploads: list[PlannedUpload] = []
    for relative, path in files:
        suffix = PurePosixPath(relative).suffix.lower()
        default = EXTENSION_FORMATS.get(suffix)
        override = next((o for o in request.format_overrides if o.matches(relative)), None)
        kind: FileType | None = None
        driver: str | None = None
        if override is not None:
            kind, driver = override.file_type(default[0] if default else None), override.format
            if kind is None:
                problems.append(
                    Problem(
                        loc=relative,
                        code="type_ambiguous",
                        message=f"{driver!r} reads raster and vector data: write "
                        f"'{override.pattern}=raster:{driver}' or '...=vector:{driver}'",
                    )
                )
                continue
        elif default is not None:
            kind, driver = default
        else:
            sidecar = _sidecar_suffix(relative)
            if sidecar is None:
                problems.append(_unknown(relative, suffix))
                continue
            if relative[: -len(sidecar)] not in shapefiles:
                problems.append(
                    Problem(
                        loc=relative,
                        code="orphan_sidecar",
                        message=f"a shapefile {sidecar} without "
                        f"{PurePosixPath(relative[: -len(sidecar)]).name}.shp beside it "
                        "(same name, same folder); exclude it or add the .shp",
                    )
                )
                continue
        if driver == "ESRI Shapefile" and suffix == ".shp":
            missing = _missing_sidecars(relative[: -len(".shp")], files)
            if missing:
                problems.append(
                    Problem(
                        loc=relative,
                        code="shapefile_incomplete",
                        message=f"the shapefile's {', '.join(missing)} sidecar(s) are missing "
                        "beside it (same name, same folder); add them or upload it zipped",
                    )
                )
        uploads.append(
            PlannedUpload(
                source=path,
                relative=relative,
                key=f"{request.batch_id}/{relative}",
                size=path.stat().st_size,
                type=kind,
                format=driver,
            )
        )
    return uploads


def _missing_sidecars(stem: str, files: Sequence[tuple[str, Path]]) -> list[str]:
    """The required sidecars missing beside ``<stem>.shp``.

    Found as staging finds them: ``<stem>.<suffix>`` with the exact stem, any case of suffix.
    """
    beside = {
        PurePosixPath(relative).suffix.lower()
        for relative, _ in files
        if relative.startswith(f"{stem}.") and "/" not in relative[len(stem) :]
    }
    return [suffix for suffix in SHAPEFILE_REQUIRED if suffix not in beside]


def _overridden(relative: str, request: UploadRequest) -> bool:
    return any(override.matches(relative) for override in request.format_overrides)


def _unknown(relative: str, suffix: str) -> Problem:
    known = ", ".join(sorted(EXTENSION_FORMATS))
    what = f"extension {suffix!r}" if suffix else "no extension"
    return Problem(
        loc=relative,
        code="unknown_file_type",
        message=f"{what} is not a known data file ({known}, or a shapefile sidecar): "
        "leave it out with --exclude PATTERN or declare it with --format-override "
        "PATTERN=DRIVER",
    )


def _key_problems(item: PlannedUpload) -> Iterable[Problem]:
    try:
        parse_landing_path(f"s3://{LANDING_BUCKET}/{item.key}")
    except ValueError as error:
        yield Problem(
            loc=item.relative, code="bad_key", message=f"cannot be a landing key: {error}"
        )
        return
    if len(item.key.encode()) > MAX_KEY_BYTES:
        yield Problem(
            loc=item.relative,
            code="key_too_long",
            message=f"its key is longer than S3's {MAX_KEY_BYTES} bytes",
        )


def _crs_of_files(
    listed: Sequence[PlannedUpload],
    crs: str | None,
    crs_of: CrsReader | None,
    problems: list[Problem],
) -> dict[str, str]:
    """The CRS to write for each listed file, by key; problems for those without one."""
    if crs is not None:
        problem = crs_problem(crs)
        if problem:
            problems.append(Problem(loc="crs (--crs)", code="bad_crs", message=problem))
            return {}
        return {item.key: crs.strip() for item in listed}
    if crs_of is None:
        problems.append(
            Problem(loc="crs (--crs)", code="crs_required", message="pass the files' CRS")
        )
        return {}
    found: dict[str, str] = {}
    for item in listed:
        assert item.type is not None  # noqa: S101 - listed files have a type
        try:
            code = crs_of(item.source, item.type)
        except (SpatialEtlError, CRSError, ValueError) as error:
            problems.append(
                Problem(loc=item.relative, code="crs_unreadable", message=f"{error}; pass --crs")
            )
            continue
        if code is None:
            problems.append(
                Problem(
                    loc=item.relative, code="crs_missing", message="the file has no CRS; pass --crs"
                )
            )
            continue
        found[item.key] = code
    return found


def _manifest(
    request: UploadRequest,
    listed: Sequence[PlannedUpload],
    crs_by_file: Mapping[str, str],
    catalog: IntentCatalog | None,
) -> dict[str, JsonValue]:
    registered: RegisteredIntent | None = None
    if catalog is not None:
        try:
            registered = catalog.get(request.intent)
        except (UnknownIntentError, IntentConflictError):
            registered = None  # check_manifest reports it
    metadata: dict[str, JsonValue] = {}
    if request.project is not None:
        metadata["project"] = request.project
    metadata["description"] = request.description
    if request.dataset is not None:
        metadata["dataset"] = request.dataset
    if request.parameters:
        metadata["parameters"] = typed_parameters(request.parameters, registered)
    files: list[JsonValue] = [
        {
            "path": f"s3://{LANDING_BUCKET}/{item.key}",
            "type": item.type.value if item.type else None,
            "format": item.format,
            "crs": crs_by_file[item.key],
        }
        for item in listed
    ]
    return {
        "batch_id": request.batch_id,
        "uploader": request.uploader,
        "intent": request.intent,
        "files": files,
        "metadata": metadata,
    }


def _locate(problem: Problem, listed: Sequence[PlannedUpload]) -> Problem:
    """Name the local file or the command-line option behind a manifest problem."""
    loc = problem.loc
    if loc.startswith("files["):
        index = loc[len("files[") : loc.index("]")]
        if index.isdigit() and int(index) < len(listed):
            return problem.model_copy(update={"loc": f"{listed[int(index)].relative} ({loc})"})
        return problem
    for field, option in _OPTION_OF.items():
        if loc == field or loc.startswith(f"{field}."):
            return problem.model_copy(update={"loc": f"{loc} ({option})"})
    return problem


def _summary(problems: Sequence[Problem]) -> str:
    return f"{len(problems)} problem(s): " + "; ".join(str(problem) for problem in problems)
