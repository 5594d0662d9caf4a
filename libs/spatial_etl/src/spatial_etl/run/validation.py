"""Offline manifest validation against the registered intents, as a machine-readable report.

This is what ``spatial-etl manifest validate`` prints and what the sensor will write beside a
rejected manifest: every problem at once, each located, and the known intents when the
manifest names an unknown one.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spatial_etl.errors import IntentConflictError, ManifestError, UnknownIntentError
from spatial_etl.models.drivers import FILE_DRIVERS
from spatial_etl.models.kinds import FileType
from spatial_etl.models.manifest import Manifest, parse_json_object
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.models.problems import Problem, problems_from_validation
from spatial_etl.plugins.registry import IntentCatalog, RegisteredIntent

FILE_TYPES: Final = frozenset(kind.value for kind in FileType)
MAX_FILES: Final = 10_000
"""Default cap on the files one manifest may list (``SPATIAL_ETL_MANIFEST_MAX_FILES``)."""


class ManifestReport(BaseModel):
    """The verdict on one manifest."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="File name or object key of the manifest.")
    valid: bool
    batch_id: str | None = None
    intent: str | None = None
    plugin: PluginInfo | None = Field(default=None, description="Plugin serving the intent.")
    problems: list[Problem] = Field(default_factory=list)
    known_intents: list[str] | None = Field(
        default=None, description="Registered intents, listed when the intent is unknown."
    )


@dataclass(frozen=True)
class ManifestCheck:
    """A manifest parsed and validated once: the verdict, and what the checks parsed.

    ``raw`` is the JSON object (``None`` when the text is no JSON object) and ``manifest`` the
    validated model (``None`` when the manifest itself is invalid), so a caller that needs
    them does not parse the same bytes again.
    """

    report: ManifestReport
    raw: dict[str, Any] | None
    manifest: Manifest | None


def check_manifest(
    data: str | bytes,
    *,
    source: str,
    catalog: IntentCatalog | None = None,
    max_files: int = MAX_FILES,
) -> ManifestReport:
    """Validate a manifest's text; with a catalog, also against its intent.

    ``source`` is the manifest's file name or key: the batch id must equal its stem. Any input
    gives a report, never an exception: what cannot be parsed is a problem of the report.
    A manifest listing more than ``max_files`` files is refused before its entries are
    validated one by one.
    """
    return parse_and_check(data, source=source, catalog=catalog, max_files=max_files).report


def parse_and_check(
    data: str | bytes,
    *,
    source: str,
    catalog: IntentCatalog | None = None,
    max_files: int = MAX_FILES,
) -> ManifestCheck:
    """:func:`check_manifest`, keeping the parsed object and model for the caller."""
    raw, problems = parse_json_object(data)
    manifest: Manifest | None = None
    files = raw.get("files") if raw is not None else None
    if isinstance(files, list) and len(files) > max_files:
        problems = [
            Problem(
                loc="files",
                code="too_many_files",
                message=f"the manifest lists {len(files)} files, more than the {max_files} "
                "allowed (SPATIAL_ETL_MANIFEST_MAX_FILES); split the batch",
            )
        ]
        raw = {key: value for key, value in raw.items() if key != "files"} if raw else raw
    elif raw is not None:
        try:
            manifest = Manifest.model_validate(raw, context={"manifest_name": source})
        except ValidationError as error:
            problems = problems_from_validation(error)
    report = ManifestReport(source=source, valid=False, problems=problems)
    if raw is not None:
        report.batch_id = raw.get("batch_id") if isinstance(raw.get("batch_id"), str) else None
        report.intent = raw.get("intent") if isinstance(raw.get("intent"), str) else None
    if catalog is not None and report.intent is not None:
        _check_intent(report, catalog, manifest or raw or {})
    report.valid = not report.problems
    return ManifestCheck(report=report, raw=raw, manifest=manifest if report.valid else None)


def _check_intent(
    report: ManifestReport, catalog: IntentCatalog, manifest: Manifest | dict[str, Any]
) -> None:
    assert report.intent is not None  # noqa: S101 - checked by the caller
    try:
        registered = catalog.get(report.intent)
    except UnknownIntentError as error:
        report.known_intents = error.known
        report.problems.append(Problem(loc="intent", code="unknown_intent", message=str(error)))
    except IntentConflictError as error:
        report.problems.append(Problem(loc="intent", code="intent_conflict", message=str(error)))
    else:
        report.plugin = registered.plugin
        report.problems.extend(_guarded_intent_problems(manifest, registered))


def check_manifest_file(
    path: Path,
    *,
    catalog: IntentCatalog | None = None,
    max_bytes: int = 1 << 20,
    max_files: int = MAX_FILES,
) -> ManifestReport:
    """:func:`check_manifest` on a local file; never raises.

    At most ``max_bytes`` are read (a larger file is reported as too large, as the sensor
    does), and a file that cannot be read is a problem of the report.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        problem = Problem(loc="", code="unreadable", message=f"cannot read {path}: {error}")
        return ManifestReport(source=path.name, valid=False, problems=[problem])
    if len(data) > max_bytes:
        problem = Problem(
            loc="",
            code="too_large",
            message=f"the manifest is larger than the {max_bytes} bytes allowed "
            "(SPATIAL_ETL_MANIFEST_MAX_BYTES)",
        )
        return ManifestReport(source=path.name, valid=False, problems=[problem])
    return check_manifest(data, source=path.name, catalog=catalog, max_files=max_files)


def _guarded_intent_problems(
    manifest: Manifest | Mapping[str, Any], registered: RegisteredIntent
) -> list[Problem]:
    """:func:`intent_problems`, with a plugin's own failure turned into a problem.

    The parameters model is plugin code: a validator raising something other than a
    ``ValueError`` escapes Pydantic. That is the plugin's fault, reported against the manifest
    that triggered it, not a crash of whoever validates.
    """
    try:
        return intent_problems(manifest, registered)
    except Exception as error:  # noqa: BLE001 - plugin code may raise anything
        return [
            Problem(
                loc="metadata.parameters",
                code="plugin_error",
                message=f"plugin {registered.plugin.name!r} failed checking the parameters: "
                f"{type(error).__name__}: {error}",
            )
        ]


def intent_problems(
    manifest: Manifest | Mapping[str, Any], registered: RegisteredIntent
) -> list[Problem]:
    """Check a manifest's files and parameters against what its intent accepts.

    Works on the raw document too, so that a manifest with schema problems still gets its
    intent-level problems reported in the same pass; values the schema already rejects are
    left to the schema's report.
    """
    document = manifest.model_dump(mode="json") if isinstance(manifest, Manifest) else manifest
    intent = registered.intent
    accepts = intent.accepts
    problems: list[Problem] = []
    files = document.get("files")
    for index, item in enumerate(files if isinstance(files, list) else []):
        if not isinstance(item, Mapping):
            continue
        kind, driver = item.get("type"), item.get("format")
        if kind in FILE_TYPES and kind != accepts.file_type.value:
            problems.append(
                Problem(
                    loc=f"files[{index}].type",
                    code="type_not_accepted",
                    message=f"intent {intent.name!r} processes {accepts.file_type.value} files, "
                    f"not {kind}",
                )
            )
        elif isinstance(driver, str) and driver in FILE_DRIVERS and driver not in accepts.drivers:
            problems.append(
                Problem(
                    loc=f"files[{index}].format",
                    code="format_not_accepted",
                    message=f"intent {intent.name!r} does not read {driver!r}; "
                    f"it reads {', '.join(sorted(accepts.drivers))}",
                )
            )
    problems.extend(parameter_problems(document, registered))
    return problems


def parameter_problems(
    manifest: Manifest | Mapping[str, Any], registered: RegisteredIntent
) -> list[Problem]:
    """Validate ``metadata.parameters`` with the intent's parameters model."""
    return parse_parameters(manifest, registered)[1]


def parse_parameters(
    manifest: Manifest | Mapping[str, Any], registered: RegisteredIntent
) -> tuple[BaseModel | None, list[Problem]]:
    """The intent's parameters model instance and the problems found, validating once.

    The instance is ``None`` when the intent takes no parameters or they are invalid.
    """
    document = manifest.model_dump(mode="json") if isinstance(manifest, Manifest) else manifest
    metadata = document.get("metadata")
    given = metadata.get("parameters") if isinstance(metadata, Mapping) else None
    intent = registered.intent
    if not isinstance(given, Mapping):
        return None, []  # absent, or not an object: the schema reports it
    if intent.parameters is None:
        if not given:
            return None, []
        return None, [
            Problem(
                loc="metadata.parameters",
                code="no_parameters",
                message=f"intent {intent.name!r} takes no parameters",
            )
        ]
    try:
        return intent.parameters.model_validate(dict(given)), []
    except ValidationError as error:
        names = list(intent.parameters.model_fields)
        found = problems_from_validation(error, prefix=("metadata", "parameters"))
        return None, [_name_the_closest(problem, names) for problem in found]


def _name_the_closest(problem: Problem, names: list[str]) -> Problem:
    """Answer an unknown parameter name with the closest valid one (a typo, most often)."""
    if problem.code != "extra_forbidden":
        return problem
    given = problem.loc.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(given, names, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"valid: {', '.join(names) or 'none'}"
    return problem.model_copy(update={"message": f"unknown parameter {given!r}; {hint}"})


def require_valid(report: ManifestReport) -> None:
    """Raise :class:`ManifestError` carrying the report's problems unless it is valid."""
    if not report.valid:
        lines = "\n".join(f"- {problem}" for problem in report.problems)
        raise ManifestError(f"manifest {report.source} is invalid:\n{lines}", report.problems)
