"""Offline manifest validation against the registered intents, as a machine-readable report.

This is what ``spatial-etl manifest validate`` prints and what the sensor will write beside a
rejected manifest: every problem at once, each located, and the known intents when the
manifest names an unknown one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from spatial_etl.errors import IntentConflictError, ManifestError, UnknownIntentError
from spatial_etl.models.drivers import FILE_DRIVERS
from spatial_etl.models.kinds import FileType
from spatial_etl.models.manifest import Manifest, parse_json_object
from spatial_etl.models.problems import Problem, problems_from_validation
from spatial_etl.registry import IntentCatalog, PluginInfo, RegisteredIntent

FILE_TYPES: Final = frozenset(kind.value for kind in FileType)


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


def check_manifest(
    data: str | bytes, *, source: str, catalog: IntentCatalog | None = None
) -> ManifestReport:
    """Validate a manifest's text; with a catalog, also against its intent.

    ``source`` is the manifest's file name or key: the batch id must equal its stem.
    """
    raw, problems = parse_json_object(data)
    manifest: Manifest | None = None
    if raw is not None:
        try:
            manifest = Manifest.model_validate(raw, context={"manifest_name": source})
        except ValidationError as error:
            problems = problems_from_validation(error)
    report = ManifestReport(source=source, valid=False, problems=problems)
    if raw is not None:
        report.batch_id = raw.get("batch_id") if isinstance(raw.get("batch_id"), str) else None
        report.intent = raw.get("intent") if isinstance(raw.get("intent"), str) else None
    if catalog is not None and report.intent is not None:
        try:
            registered = catalog.get(report.intent)
        except UnknownIntentError as error:
            report.known_intents = error.known
            report.problems.append(Problem(loc="intent", code="unknown_intent", message=str(error)))
        except IntentConflictError as error:
            report.problems.append(
                Problem(loc="intent", code="intent_conflict", message=str(error))
            )
        else:
            report.plugin = registered.plugin
            report.problems.extend(intent_problems(manifest or raw or {}, registered))
    report.valid = not report.problems
    return report


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
    document = manifest.model_dump(mode="json") if isinstance(manifest, Manifest) else manifest
    metadata = document.get("metadata")
    given = metadata.get("parameters") if isinstance(metadata, Mapping) else None
    if not isinstance(given, Mapping):
        return []  # absent, or not an object: the schema reports it
    intent = registered.intent
    if intent.parameters is None:
        if not given:
            return []
        return [
            Problem(
                loc="metadata.parameters",
                code="no_parameters",
                message=f"intent {intent.name!r} takes no parameters",
            )
        ]
    try:
        intent.parameters.model_validate(dict(given))
    except ValidationError as error:
        return problems_from_validation(error, prefix=("metadata", "parameters"))
    return []


def require_valid(report: ManifestReport) -> None:
    """Raise :class:`ManifestError` carrying the report's problems unless it is valid."""
    if not report.valid:
        lines = "\n".join(f"- {problem}" for problem in report.problems)
        raise ManifestError(f"manifest {report.source} is invalid:\n{lines}", report.problems)
