"""The typed steps an intent declares: GDAL commands, SQL statements, checks and one export.

Steps are declarations with placeholders (see :mod:`spatial_etl.models.placeholders`); the
core fills them for each input when it resolves a plan. They carry a description because the
ledger's lineage statement lists them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

STEP_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,62}$"
StepName = Annotated[str, StringConstraints(pattern=STEP_NAME_PATTERN)]


class GdalProgram(StrEnum):
    """GDAL command-line programs a step may run. Anything else is not a GDAL step."""

    GDAL_TRANSLATE = "gdal_translate"
    GDALWARP = "gdalwarp"
    GDALADDO = "gdaladdo"
    GDALBUILDVRT = "gdalbuildvrt"
    GDALDEM = "gdaldem"
    GDAL_RASTERIZE = "gdal_rasterize"
    NEARBLACK = "nearblack"
    OGR2OGR = "ogr2ogr"


class ExportFormat(StrEnum):
    """Formats of data at rest in the lake."""

    GEOPARQUET = "GeoParquet"
    COG = "COG"


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: StepName = Field(description="Identifier of the step, unique within its intent.")
    description: str = Field(min_length=1, description="What the step does, for the lineage.")
    when: str | None = Field(
        default=None, description="Run only when this parameter is set (not None/False)."
    )
    unless: str | None = Field(
        default=None, description="Skip when this parameter is set (not None/False)."
    )


class GdalStep(_Step):
    """Run a GDAL program with an argument list; each placeholder fills one argument's text."""

    kind: Literal["gdal"] = "gdal"
    program: GdalProgram = Field(description="The GDAL program to run.")
    args: tuple[str, ...] = Field(min_length=1, description="Arguments, with placeholders.")
    output_suffix: Annotated[str, StringConstraints(pattern=r"^\.[A-Za-z0-9]{1,8}$")] | None = (
        Field(
            default=None,
            description="When set, the step writes {dst} with this suffix, and {dst} becomes "
            "{src} for the following steps.",
        )
    )


class SqlStep(_Step):
    """Execute one SQL statement against the run's schema."""

    kind: Literal["sql"] = "sql"
    statement: str = Field(min_length=1, description="SQL with {schema}/{table} placeholders.")


class SqlCheckStep(_Step):
    """Run a query that selects offending rows; any row fails the run with ``message``."""

    kind: Literal["sql_check"] = "sql_check"
    query: str = Field(min_length=1, description="SELECT returning the rows that break the rule.")
    message: str = Field(min_length=1, description="What the offending rows mean, for the user.")


class ExportStep(_Step):
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


Step = Annotated[GdalStep | SqlStep | SqlCheckStep | ExportStep, Field(discriminator="kind")]
"""Any step an intent may declare; the ``kind`` field tells which."""
