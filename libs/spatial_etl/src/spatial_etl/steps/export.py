"""The ``export`` step kind: publish the chain's result in the lake's format.

Always an intent's last step. Vector intents export a PostGIS table as GeoParquet, raster
intents the current dataset (``{src}``) as a COG. Planning fills the table name or the creation
options; the file itself is written by the run's pipeline once the chain has run
(:mod:`spatial_etl.run.pipelines`), because writing it also yields the facts the ledger records.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import Field

from spatial_etl.models.placeholders import Usage, check_template
from spatial_etl.steps.kind import (
    IntentFacts,
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
)


class ExportFormat(StrEnum):
    """Formats of data at rest in the lake."""

    GEOPARQUET = "GeoParquet"
    COG = "COG"


class ExportStep(StepDeclaration):
    """Publish the step chain's result in the lake's format (always the intent's last step)."""

    kind: Literal["export"] = "export"
    format: ExportFormat = Field(description="GeoParquet (vector) or COG (raster).")
    table: str | None = Field(
        default=None, description="GeoParquet: the table to export, usually '{table}'."
    )
    geometry_column: str = Field(default="geom", description="GeoParquet: the geometry column.")
    creation_options: dict[str, str] = Field(
        default_factory=dict,
        description="COG: creation options of gdal_translate -of COG; values may use placeholders.",
    )
    partition: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,62}$",
        description="GeoParquet: a text column of the table whose values split it into "
        "datasets. When it holds more than one value, each value's rows become the dataset "
        "'<dataset>_<value>'; the column itself is not exported, and a NULL in it fails the run.",
    )


class PlannedExport(PlannedStep):
    """What to publish, and in which format."""

    kind: Literal["export"] = "export"
    format: ExportFormat
    source: str = Field(description="Table name (GeoParquet) or dataset path (COG).")
    geometry_column: str
    creation_options: dict[str, str]
    partition: str | None = None


class ExportKind(StepKind[ExportStep, PlannedExport]):
    """Checks and plans :class:`ExportStep`; the pipeline writes the product."""

    name = "export"
    declaration = ExportStep
    planned = PlannedExport

    def problems(self, step: ExportStep, intent: IntentFacts) -> list[str]:
        """The format matches the file type, and only its own options are given."""
        vector, fields = intent.is_vector, intent.parameter_fields
        problems: list[str] = []
        if step.when or step.unless:
            problems.append("the export step always runs; it cannot have when/unless")
        if step.format is ExportFormat.GEOPARQUET:
            if not vector:
                problems.append("GeoParquet exports vector tables; a raster intent exports COG")
            if not step.table:
                problems.append("a GeoParquet export names its table (usually '{table}')")
            else:
                problems += check_template(
                    step.table, Usage.EXPORT, vector=vector, parameter_fields=fields
                )
            if step.creation_options:
                problems.append("creation_options apply to COG exports only")
            if step.partition == step.geometry_column:
                problems.append("the partition column cannot be the geometry column")
            return problems
        if vector:
            problems.append("COG exports rasters; a vector intent exports GeoParquet")
        if step.table:
            problems.append("a COG export exports the current dataset ({src}); it takes no table")
        if step.partition:
            problems.append("partition splits GeoParquet exports only")
        for key, value in step.creation_options.items():
            if not key.isupper() or not key.replace("_", "").isalnum():
                problems.append(f"creation option {key!r} must be an upper-case GDAL option name")
            problems += check_template(value, Usage.EXPORT, vector=vector, parameter_fields=fields)
        return problems

    def plan(self, step: ExportStep, context: PlanContext) -> PlannedExport:
        """The table (GeoParquet) or the current dataset ``{src}`` (COG), options filled."""
        where = f"step {step.name!r}"
        source = context.fill(step.table, where) if step.table else context.text["src"]
        options = {key: context.fill(value, where) for key, value in step.creation_options.items()}
        return PlannedExport(
            step=step.name,
            description=step.description,
            format=step.format,
            source=source,
            geometry_column=step.geometry_column,
            creation_options=options,
            partition=step.partition,
        )

    def execute(self, planned: PlannedExport, context: StepContext) -> None:
        """Nothing to do in the chain: the pipeline writes the product after the last step."""

    def describe(self, step: ExportStep) -> str:
        """Format, table and options."""
        body = f"format {step.format.value}"
        if step.table:
            body += f", table {step.table}, geometry column {step.geometry_column}"
        if step.partition:
            body += f", one dataset per value of {step.partition}"
        if step.creation_options:
            body += ", " + " ".join(f"-co {k}={v}" for k, v in step.creation_options.items())
        return body
