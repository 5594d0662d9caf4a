"""Exceptions raised by the core library, grouped by what a caller does about them.

Every error the core raises derives from :class:`SpatialEtlError`, which carries the ``step``
and ``file`` it concerns when they are known, so an adapter (the Dagster job, the CLI, the
ledger's run record) reports them without guessing. Below the root, three bases say whose
move it is:

- :class:`BadInputError` (also a ``ValueError``): the user's manifest, parameters or files are
  wrong; retrying cannot help, a corrected upload can.
- :class:`PluginFaultError`: an installed plugin declares something the platform cannot use;
  its author (or the operator, by blocking it) must act.
- :class:`ConfigurationError`: a setting is missing or invalid; the operator must act.
- :class:`ServiceError`: a backend (object store, PostGIS, ledger) refused or failed an
  operation; :class:`ServiceUnavailableError` (also a ``ConnectionError``) marks the outages
  that pass by themselves, so the work is deferred and retried.

The rest describe a stage of the work that failed (a GDAL program, an export, a publish); the
run that raised them records them as its failure.
"""

from __future__ import annotations

from collections.abc import Sequence


class SpatialEtlError(Exception):
    """Root of every error raised by the spatial ETL core.

    ``step`` names the plan step and ``file`` the manifest file the error concerns, or ``None``
    when it concerns neither (a manifest, a service). Both are keyword-only so subclasses keep
    their own positional signatures.
    """

    def __init__(self, *args: object, step: str | None = None, file: str | None = None) -> None:
        super().__init__(*args)
        self.step = step
        self.file = file


class BadInputError(SpatialEtlError, ValueError):
    """The user's manifest, parameters or files cannot be processed as given.

    Retrying the same upload fails the same way; the message says what to correct.
    """


class PluginFaultError(SpatialEtlError):
    """An installed plugin declares something the platform cannot use, or fails to load."""


class ServiceError(SpatialEtlError):
    """A backend service (object store, PostGIS, ledger) refused or failed an operation."""


class ConfigurationError(SpatialEtlError):
    """A ``SPATIAL_ETL_*`` setting is missing or invalid: the operator must act.

    The message is one line naming each variable at fault, so a sensor tick or a run reports
    what to set rather than a validation traceback.
    """


class ServiceUnavailableError(ServiceError, ConnectionError):
    """A backend could not be reached or answered too slowly: an outage, nobody's fault.

    Work that meets it is deferred and tried again rather than recorded as failed.
    """


# --- bad user input ------------------------------------------------------------------------


class ManifestError(BadInputError):
    """A manifest could not be read or does not satisfy the ingestion contract.

    ``problems`` lists every problem found, each with its location, so that a user can fix
    them all at once.
    """

    def __init__(self, message: str, problems: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class UnknownIntentError(BadInputError, LookupError):
    """No loaded plugin registered the requested intent.

    ``known`` holds the registered intent names, for the error report.
    """

    def __init__(self, name: str, known: Sequence[str]) -> None:
        listing = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown intent {name!r}; registered intents: {listing}")
        self.name = name
        self.known = sorted(known)


class PlanError(BadInputError):
    """A plan could not be resolved for a manifest (missing value, bad parameter, ...)."""


class InputError(BadInputError):
    """An input file contradicts its manifest entry or what the intent accepts.

    Raised for a CRS that differs from the manifest's, a geometry kind the intent does not
    accept, or a layer that cannot be chosen; the message names the file.
    """


class LimitExceededError(InputError):
    """An input exceeds a configured size or resource limit, found before any expensive work.

    The message names the file, the measured value, the limit and the setting that raises it;
    ``setting``, ``measured`` and ``limit`` are kept for callers.
    """

    def __init__(self, message: str, *, setting: str, measured: float, limit: float) -> None:
        super().__init__(message)
        self.setting = setting
        self.measured = measured
        self.limit = limit


class AttributeTableError(InputError):
    """A shapefile's attribute table (.dbf) is inconsistent or holds a value invalid for its field.

    A header declaring more records than the file holds, a .shx disagreeing with it, bytes that
    do not decode in the declared encoding, or a numeric, date or logical field holding something
    else; the message names the file and, for a value, the field and the 1-based row.
    """


class StagingSpaceError(InputError):
    """The work directory lacks the free disk an input needs; nothing was downloaded."""


class UnsafeInputError(InputError):
    """An input was refused by screening before any GDAL program opened it.

    Screening reads the staged bytes with plain Python (magic numbers, the zip's central
    directory, the GeoPackage's schema) because a hostile file must never reach a GDAL driver
    the manifest did not name. The message names the file and the rule, or the setting that
    raises the limit.
    """


class FormatMismatchError(UnsafeInputError):
    """The bytes of an input are not the format its manifest entry declares.

    Names the file, the declared driver and what the bytes were found to be, e.g. a ``.tif``
    declared ``GTiff`` whose content is VRT XML.
    """


class MetaFormatError(UnsafeInputError):
    """An input is a format that references other files (VRT, OGR VRT, MRF...) and is refused.

    Either the intent does not accept that driver explicitly, or a reference leaves the
    input's own staged folder (absolute path, ``..``, ``/vsi...``, URL).
    """


class UnsafeArchiveError(UnsafeInputError):
    """A zip archive has a member or a size that screening refuses (path escape, bomb...)."""


class UnsafeGeoPackageError(UnsafeInputError):
    """A GeoPackage/SQLite input holds views, foreign triggers or virtual tables, or is no GPKG."""


class UploadError(BadInputError):
    """A local directory cannot be uploaded as a batch, or its batch cannot be committed.

    ``problems`` lists every problem found before anything was sent (unknown file types,
    missing shapefile sidecars, an invalid generated manifest...), each located by the file's
    path relative to the directory or by the manifest field.
    """

    def __init__(self, message: str, problems: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class BatchCommittedError(UploadError):
    """The batch's manifest is already in the landing zone: its files are not to be changed.

    The batch may be waiting or running; uploading files under it would change its inputs.
    Raised before anything is sent; the caller may replace the batch deliberately.
    """


class StaleManifestError(BadInputError):
    """A run was asked for a manifest version that has since been replaced in the landing zone."""


class AssetQueryError(BadInputError):
    """A search of the ledger's assets is malformed: a bounding box or a time window."""


class BatchQueryError(BadInputError):
    """A listing of the ledger's batches is malformed: a time window or a listing position."""


# --- plugin faults -------------------------------------------------------------------------


class IntentDeclarationError(PluginFaultError):
    """A plugin declared an intent that cannot be executed (bad step, unknown placeholder, ...)."""


class DuplicateIntentError(PluginFaultError):
    """An intent name was registered twice; the message names both claimants."""


class IntentConflictError(PluginFaultError):
    """Two plugins claim the same intent, so neither can be trusted to serve it."""


class StepKindError(PluginFaultError):
    """A step kind is unknown, or registered twice under one name by different kinds."""


class PluginLoadError(PluginFaultError):
    """Raised in strict loading when a plugin failed to import or to register."""


# --- backend services ----------------------------------------------------------------------


class StorageError(ServiceError):
    """An object-store (S3) operation failed or was refused.

    The message names the object (``s3://bucket/key``) and S3's error code, the two facts that
    tell a missing bucket from a permission or connection problem. ``bucket``, ``key`` and
    ``code`` are kept for callers that branch on them; ``code`` is ``None`` when S3 never
    answered (connection refused, timeout) or the store refused the call itself.
    """

    def __init__(
        self,
        message: str,
        *,
        bucket: str | None = None,
        key: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.key = key
        self.code = code


class ObjectNotFoundError(StorageError):
    """The object to read does not exist (S3 ``NoSuchKey``); nothing was written locally."""


class ObjectIntegrityError(StorageError):
    """An object's bytes do not match its recorded ``content_hash`` or announced length.

    Raised by a download before the local file is put in place, so a corrupt copy is never
    mistaken for the object.
    """


class ObjectTooLargeError(StorageError):
    """An object read whole (a manifest) is larger than the caller allows; nothing was read."""


class InvalidMetadataError(StorageError):
    """User metadata S3 cannot store as given; refused before anything is uploaded.

    S3 sends user metadata as HTTP headers: keys must be header names and values ASCII, the
    whole at most 2 KiB, and ``content_hash`` is reserved for the store's own SHA-256.
    """


class StorageUnavailableError(StorageError, ServiceUnavailableError):
    """S3 did not answer, or answered with a transient code (503 SlowDown, 500...)."""


class ComputeError(ServiceError):
    """The PostGIS compute database refused or failed an operation (connection, schema)."""


class ComputeUnavailableError(ComputeError, ServiceUnavailableError):
    """No connection to PostGIS could be made within its retry window."""


class SqlStepError(ComputeError):
    """A plan's SQL statement failed; carries the step name and PostgreSQL's message."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"SQL step {step!r} failed: {message}", step=step)
        self.pg_message = message


class ComputeConnectionLostError(SqlStepError):
    """The connection to PostGIS died while a SQL step ran (server restart, network loss).

    Whether the step's statement took effect is unknown, so it is not retried: the run fails
    with this error, which names the step and carries PostgreSQL's or libpq's message.
    """

    def __init__(self, step: str, message: str) -> None:
        super().__init__(step, message)
        self.args = (f"connection to PostGIS lost during step {step!r}: {message}",)


class LedgerError(ServiceError):
    """The MongoDB ledger refused an operation: a missing document or a forbidden transition.

    Committing an asset that is not pending, finishing a run twice, or updating a batch that
    was never recorded raise it; the message names the document and its current status.
    """


class DuplicateAssetError(LedgerError):
    """A pending or committed asset already holds this (intent, dataset, version) or S3 key.

    The unique indexes make a retried or racing publish fail here before anything is uploaded.
    The caller must not upload: it re-checks the content hash (a duplicate to record) or takes
    the next free version.
    """


class DuplicateBatchError(LedgerError):
    """A batch id is already recorded for another manifest object (a different ETag).

    Only a rejected batch may be recorded again, with the corrected manifest; an accepted
    batch keeps its id, so a new upload needs a new batch id.
    """


class BatchBusyError(LedgerError):
    """Another run holds the batch's lease: one run per batch at a time.

    Raised to the second of two runs of the same batch (a re-uploaded manifest, a manual
    re-execution); it publishes nothing and leaves the manifest to the holder. ``holder`` is the
    run id that holds the lease.
    """

    def __init__(self, batch_id: str, holder: str) -> None:
        super().__init__(
            f"batch {batch_id!r} is being processed by run {holder}; "
            "this run did nothing (one run per batch at a time)"
        )
        self.batch_id = batch_id
        self.holder = holder


# --- GDAL programs -------------------------------------------------------------------------


class GdalError(SpatialEtlError):
    """Root of the errors raised while running or reading GDAL command-line tools."""


class GdalNotFoundError(GdalError, FileNotFoundError):
    """A GDAL program is not installed or not on the configured path."""


class GdalCommandError(GdalError):
    """A GDAL program exited with a non-zero status.

    Carries the argument list, the exit status and the tail of stderr, which is also the
    message, because that tail is what tells a user what went wrong.
    """

    def __init__(self, argv: Sequence[str], returncode: int, stderr_tail: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        detail = stderr_tail.strip() or "(no output on stderr)"
        super().__init__(f"{argv[0]} exited with status {returncode}: {detail}")


class GdalTimeoutError(GdalError, TimeoutError):
    """A GDAL program ran longer than its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout_s: float, stderr_tail: str) -> None:
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.stderr_tail = stderr_tail
        detail = f"; last output: {stderr_tail.strip()}" if stderr_tail.strip() else ""
        super().__init__(f"{argv[0]} was killed after {timeout_s:g} s{detail}")


class GdalSandboxError(GdalError):
    """GDAL cannot be started contained (``setpriv``/``prlimit`` of util-linux missing).

    The runner refuses to start GDAL uncontained rather than degrade silently.
    """


class GdalResourceLimitError(GdalCommandError):
    """A GDAL program was stopped by an OS limit (CPU time, address space) set by the runner.

    ``limit`` says which limit and its value, ``setting`` names the variable that raises it.
    """

    def __init__(
        self,
        argv: Sequence[str],
        returncode: int,
        stderr_tail: str,
        *,
        limit: str,
        setting: str,
    ) -> None:
        super().__init__(argv, returncode, stderr_tail)
        self.limit = limit
        self.setting = setting
        detail = stderr_tail.strip() or "(no output on stderr)"
        self.args = (
            f"{argv[0]} was stopped by the {limit} (raise {setting} if the input is "
            f"legitimate); status {returncode}: {detail}",
        )


class GdalOutputError(GdalError):
    """A GDAL program's output could not be understood (unexpected JSON or text)."""


# --- stages of a run ------------------------------------------------------------------------


class StepError(SpatialEtlError):
    """A step of a run failed; names the step and the input file, and says why.

    The message is what the run's ledger record and the user see: GDAL's stderr tail, the SQL
    error, or the rule a check found broken.
    """

    def __init__(self, step: str, file: str | None, message: str) -> None:
        where = f" on {file}" if file else ""
        super().__init__(f"step {step!r} failed{where}: {message}", step=step, file=file)
        self.step: str = step
        self.reason = message


class ExportError(SpatialEtlError):
    """A PostGIS table could not be exported to GeoParquet.

    The message names ``schema.table`` and the cause (PostgreSQL's, ADBC's or Arrow's own text,
    or the rule the table breaks: an unsupported geometry type, mixed SRIDs...). No partial
    file is left behind when it is raised.
    """


class CogValidationError(SpatialEtlError):
    """A file meant for the lake is not a valid Cloud-Optimized GeoTIFF; lists every problem."""

    def __init__(self, path: object, problems: list[str]) -> None:
        super().__init__(f"{path} is not a valid COG: " + "; ".join(problems))
        self.problems = problems


class QuicklookError(SpatialEtlError):
    """A product's PNG preview could not be made (a GDAL program failed, a query was refused).

    A quicklook is derived and optional: the run logs this error and publishes the product
    without one. An outage met while making it is raised as itself, never as this.
    """


class PublishError(SpatialEtlError):
    """An output could not be published; its object was removed and its document marked failed."""


class MetadataError(SpatialEtlError):
    """A metadata document (STAC, ISO 19139) could not be built or does not validate.

    Raised before anything is written: the message names the document and what is wrong.
    """


class CatalogueError(SpatialEtlError):
    """The STAC Collection or Catalog could not be brought in line with the ledger this time.

    Never fatal to a run: the versions stay ``catalogued_at=None`` in the ledger and the
    reconciler rewrites their Collection and the Catalog on its next pass.
    """


class SettleError(SpatialEtlError):
    """A run ended but its batch could not be fully settled (report, manifest move, status).

    The run itself is recorded; every settling step is idempotent, and the next sensor tick or
    the reconciler finishes what this one could not.
    """
