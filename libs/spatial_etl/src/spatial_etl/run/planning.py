"""Resolve an intent's declared steps into the concrete plan for one input of one run.

Resolution is pure: it fills placeholders with the run's values and the manifest's
parameters, decides which conditional steps run, and allocates work files. It touches no
file, database or network, so a plan can be shown, tested and recorded before anything runs.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Final, Literal

from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from spatial_etl.errors import PlanError
from spatial_etl.models.drivers import open_drivers
from spatial_etl.models.manifest import Manifest, ManifestFile
from spatial_etl.models.placeholders import PARAMS_PREFIX, PLACEHOLDERS, SqlRole, template_fields
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.models.steps import (
    ExportFormat,
    ExportStep,
    GdalProgram,
    GdalStep,
    SqlCheckStep,
    SqlStep,
)
from spatial_etl.plugins.registry import RegisteredIntent

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class RunValues(BaseModel):
    """Values that belong to the run rather than to one input."""

    model_config = _FROZEN

    run_id: str
    schema_name: str = Field(description="The run's PostGIS schema (vector intents).")
    workdir: Path = Field(description="Directory for the run's work files.")
    postgis: str | None = Field(
        default=None, description="GDAL PG: data source of the compute database, without password."
    )


class InputBinding(BaseModel):
    """One manifest file as the run will read it."""

    model_config = _FROZEN

    index: int = Field(ge=0, description="Position of the file in the manifest.")
    file: ManifestFile
    gdal_path: str = Field(description="How GDAL opens it: /vsis3/..., /vsizip/..., a local path.")
    layer: str | None = Field(default=None, description="Layer to read (vector).")

    @property
    def table(self) -> str:
        """The table this input is loaded into, inside the run's schema."""
        return f"input_{self.index}"


class PlannedGdal(BaseModel):
    """A GDAL command ready to run."""

    model_config = _FROZEN

    kind: Literal["gdal"] = "gdal"
    step: str
    description: str
    argv: tuple[str, ...]
    output: str | None = None


class PlannedSql(BaseModel):
    """A SQL statement (or check query) with its identifiers and literals kept apart."""

    model_config = _FROZEN

    kind: Literal["sql", "sql_check"]
    step: str
    description: str
    template: str
    identifiers: dict[str, str] = Field(description="Placeholder -> identifier (sql.Identifier).")
    literals: dict[str, JsonValue] = Field(description="Placeholder -> value (sql.Literal).")
    message: str | None = Field(default=None, description="sql_check: what offending rows mean.")

    def compose(self) -> sql.Composed:
        """The statement, with identifiers and values bound only through ``psycopg2.sql``."""
        bound: dict[str, sql.Composable] = {
            k: sql.Identifier(v) for k, v in self.identifiers.items()
        }
        bound.update({k: sql.Literal(v) for k, v in self.literals.items()})
        return sql.SQL(self.template).format(**bound)


class PlannedExport(BaseModel):
    """What to publish, and in which format."""

    model_config = _FROZEN

    kind: Literal["export"] = "export"
    step: str
    description: str
    format: ExportFormat
    source: str = Field(description="Table name (GeoParquet) or dataset path (COG).")
    geometry_column: str
    creation_options: dict[str, str]


PlannedStep = Annotated[PlannedGdal | PlannedSql | PlannedExport, Field(discriminator="kind")]


class Plan(BaseModel):
    """The concrete steps of one intent for one input of one run."""

    model_config = _FROZEN

    intent: str
    plugin: PluginInfo
    input: InputBinding
    parameters: dict[str, JsonValue]
    steps: tuple[PlannedStep, ...]
    skipped: tuple[str, ...] = Field(description="Conditional steps that do not run, by name.")

    @property
    def export(self) -> PlannedExport:
        """The plan's export (always its last step)."""
        last = self.steps[-1]
        assert isinstance(last, PlannedExport)  # noqa: S101 - guaranteed by Intent validation
        return last


class _Fill(Formatter):
    """``str.format`` that looks dotted names (``params.x``) up whole, never as attributes."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        return kwargs[field_name], field_name


def resolve_plan(
    registered: RegisteredIntent, manifest: Manifest, binding: InputBinding, run: RunValues
) -> Plan:
    """Fill the intent's steps for ``binding``; raise :class:`PlanError` if a value is missing."""
    intent = registered.intent
    params = _parameters(registered, manifest)
    text: dict[str, str] = {
        "run_id": run.run_id,
        "batch_id": manifest.batch_id,
        "intent": intent.name,
        "crs": binding.file.crs,
        "src": binding.gdal_path,
    }
    if intent.is_vector:
        text |= {"schema": run.schema_name, "table": binding.table}
        if run.postgis is not None:
            text["postgis"] = run.postgis
        if binding.layer is not None:
            text["layer"] = binding.layer
    for field, value in params.items():
        if value is not None:
            text[PARAMS_PREFIX + field] = _as_text(value)
    steps: list[PlannedGdal | PlannedSql | PlannedExport] = []
    skipped: list[str] = []
    for position, step in enumerate(intent.steps):
        if not _runs(step.when, step.unless, params):
            skipped.append(step.name)
            continue
        if isinstance(step, GdalStep):
            planned = _gdal(step, text, run.workdir, binding.index, position)
            if not intent.is_vector:
                planned = _restrict_input(planned, binding)
            if planned.output is not None:
                text["src"] = planned.output
            steps.append(planned)
        elif isinstance(step, SqlStep | SqlCheckStep):
            steps.append(_sql(step, text, params))
        else:
            steps.append(_export(step, text))
    return Plan(
        intent=intent.name,
        plugin=registered.plugin,
        input=binding,
        parameters={k: _json(v) for k, v in params.items()},
        steps=tuple(steps),
        skipped=tuple(skipped),
    )


def _parameters(registered: RegisteredIntent, manifest: Manifest) -> dict[str, Any]:
    model = registered.intent.parameters
    if model is None:
        return {}
    try:
        parsed = model.model_validate(manifest.metadata.parameters)
    except ValidationError as error:
        raise PlanError(f"invalid parameters for {registered.intent.name!r}: {error}") from None
    return {field: getattr(parsed, field) for field in type(parsed).model_fields}


def _runs(when: str | None, unless: str | None, params: dict[str, Any]) -> bool:
    def is_set(name: str) -> bool:
        value = params.get(name)
        return value is not None and value is not False

    return (when is None or is_set(when)) and (unless is None or not is_set(unless))


def _fill(template: str, text: dict[str, str], where: str) -> str:
    missing = [name for name in template_fields(template) if name not in text]
    if missing:
        names = ", ".join("{" + name + "}" for name in missing)
        raise PlanError(f"{where}: no value for {names}")
    return _Fill().vformat(template, (), text)


def _gdal(
    step: GdalStep, text: dict[str, str], workdir: Path, index: int, position: int
) -> PlannedGdal:
    values = dict(text)
    output = None
    if step.output_suffix is not None:
        output = str(workdir / f"input{index}-{position:02d}-{step.name}{step.output_suffix}")
        values["dst"] = output
    argv = [_fill(arg, values, f"step {step.name!r}") for arg in step.args]
    return PlannedGdal(
        step=step.name,
        description=step.description,
        argv=(step.program.value, *argv),
        output=output,
    )


RESTRICTABLE: Final = frozenset({GdalProgram.GDAL_TRANSLATE.value, GdalProgram.GDALWARP.value})
"""Raster programs of GDAL 3.6 that take ``-if`` (the drivers allowed to open the input)."""


def _restrict_input(planned: PlannedGdal, binding: InputBinding) -> PlannedGdal:
    """Put ``-if <declared driver>`` before the raw input, so no other driver may open it.

    Only the user's file is restricted: later steps read the platform's own VRTs.
    """
    program, *args = planned.argv
    if program not in RESTRICTABLE or binding.gdal_path not in args:
        return planned
    at = args.index(binding.gdal_path)
    restrict = [arg for driver in open_drivers(binding.file.format) for arg in ("-if", driver)]
    argv = (program, *args[:at], *restrict, *args[at:])
    return planned.model_copy(update={"argv": argv})


def _sql(step: SqlStep | SqlCheckStep, text: dict[str, str], params: dict[str, Any]) -> PlannedSql:
    template = step.statement if isinstance(step, SqlStep) else step.query
    identifiers: dict[str, str] = {}
    literals: dict[str, JsonValue] = {}
    for name in template_fields(template):
        if name.startswith(PARAMS_PREFIX):
            value = params.get(name.removeprefix(PARAMS_PREFIX))
            if value is None:
                raise PlanError(f"step {step.name!r}: parameter {name} is not set")
            literals[name] = _json(value)
        elif name not in text:
            raise PlanError(f"step {step.name!r}: no value for {{{name}}}")
        elif PLACEHOLDERS[name].sql_role is SqlRole.IDENTIFIER:
            identifiers[name] = text[name]
        else:
            literals[name] = text[name]
    return PlannedSql(
        kind=step.kind,
        step=step.name,
        description=step.description,
        template=template,
        identifiers=identifiers,
        literals=literals,
        message=step.message if isinstance(step, SqlCheckStep) else None,
    )


def _export(step: ExportStep, text: dict[str, str]) -> PlannedExport:
    where = f"step {step.name!r}"
    source = _fill(step.table, text, where) if step.table else text["src"]
    options = {key: _fill(value, text, where) for key, value in step.creation_options.items()}
    return PlannedExport(
        step=step.name,
        description=step.description,
        format=step.format,
        source=source,
        geometry_column=step.geometry_column,
        creation_options=options,
    )


def _as_text(value: Any) -> str:
    """A parameter as one command-line argument: enums by value, booleans as GDAL's YES/NO."""
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def _json(value: Any) -> JsonValue:
    if isinstance(value, Enum):
        return value.value  # type: ignore[no-any-return]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
