"""Exceptions raised by the core library.

Every error the core raises derives from :class:`SpatialEtlError`, so an adapter (the Dagster
job, the CLI) can catch the platform's failures apart from programming errors.
"""

from __future__ import annotations

from collections.abc import Sequence


class SpatialEtlError(Exception):
    """Root of every error raised by the spatial ETL core."""


class ManifestError(SpatialEtlError):
    """A manifest could not be read or does not satisfy the ingestion contract.

    ``problems`` lists every problem found, each with its location, so that a user can fix
    them all at once.
    """

    def __init__(self, message: str, problems: Sequence[object] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)


class IntentDeclarationError(SpatialEtlError):
    """A plugin declared an intent that cannot be executed (bad step, unknown placeholder, ...)."""


class DuplicateIntentError(SpatialEtlError):
    """An intent name was registered twice; the message names both claimants."""


class UnknownIntentError(SpatialEtlError):
    """No loaded plugin registered the requested intent.

    ``known`` holds the registered intent names, for the error report.
    """

    def __init__(self, name: str, known: Sequence[str]) -> None:
        listing = ", ".join(sorted(known)) or "none"
        super().__init__(f"unknown intent {name!r}; registered intents: {listing}")
        self.name = name
        self.known = sorted(known)


class IntentConflictError(SpatialEtlError):
    """Two plugins claim the same intent, so neither can be trusted to serve it."""


class PluginLoadError(SpatialEtlError):
    """Raised in strict loading when a plugin failed to import or to register."""


class PlanError(SpatialEtlError):
    """A plan could not be resolved for a manifest (missing value, bad parameter, ...)."""


class GdalError(SpatialEtlError):
    """Root of the errors raised while running or reading GDAL command-line tools."""


class GdalNotFoundError(GdalError):
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


class GdalTimeoutError(GdalError):
    """A GDAL program ran longer than its timeout and was killed."""

    def __init__(self, argv: Sequence[str], timeout_s: float, stderr_tail: str) -> None:
        self.argv = list(argv)
        self.timeout_s = timeout_s
        self.stderr_tail = stderr_tail
        detail = f"; last output: {stderr_tail.strip()}" if stderr_tail.strip() else ""
        super().__init__(f"{argv[0]} was killed after {timeout_s:g} s{detail}")


class GdalOutputError(GdalError):
    """A GDAL program's output could not be understood (unexpected JSON or text)."""


class InputError(SpatialEtlError):
    """An input file contradicts its manifest entry or what the intent accepts.

    Raised for a CRS that differs from the manifest's, a geometry kind the intent does not
    accept, or a layer that cannot be chosen; the message names the file.
    """


class ComputeError(SpatialEtlError):
    """The PostGIS compute database refused or failed an operation (connection, schema)."""


class SqlStepError(ComputeError):
    """A plan's SQL statement failed; carries the step name and PostgreSQL's message."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"SQL step {step!r} failed: {message}")
        self.step = step
        self.pg_message = message


class CogValidationError(SpatialEtlError):
    """A file meant for the lake is not a valid Cloud-Optimized GeoTIFF; lists every problem."""

    def __init__(self, path: object, problems: list[str]) -> None:
        super().__init__(f"{path} is not a valid COG: " + "; ".join(problems))
        self.problems = problems
