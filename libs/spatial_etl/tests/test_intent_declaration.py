"""Intent declarations are validated when built: every refusal names the step and the rule."""

from __future__ import annotations

from typing import Any

import pytest
import spatial_etl_satellite_raster as satellite_raster
import spatial_etl_vector_boundary as vector_boundary
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    GdalProgram,
    GdalStep,
    GeometryKind,
    Intent,
    SqlCheckStep,
    SqlStep,
)
from spatial_etl.models.placeholders import PLACEHOLDERS

RASTER = Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"}))
VECTOR = Accepts(
    file_type=FileType.VECTOR,
    drivers=frozenset({"GPKG"}),
    geometry_kinds=frozenset({GeometryKind.POLYGON}),
)
COG = ExportStep(name="export", description="Write a COG.", format=ExportFormat.COG)
PARQUET = ExportStep(
    name="export", description="Write GeoParquet.", format=ExportFormat.GEOPARQUET, table="{table}"
)
KNOWN = ", ".join(PLACEHOLDERS)
LOAD = GdalStep(
    name="load",
    description="Load into PostGIS.",
    program=GdalProgram.OGR2OGR,
    args=("-f", "PostgreSQL", "{postgis}", "{src}", "-nln", "{table}", "-lco", "FID={fid}"),
)


class Options(BaseModel):
    """Parameters used by the test intents."""

    model_config = ConfigDict(extra="forbid")

    target_crs: str | None = Field(default=None, description="Reproject to this CRS.")
    fast: bool = Field(default=False, description="Trade quality for speed.")
    band: int = Field(description="A required parameter.")


class NotForbidding(BaseModel):
    """Parameters whose model lets typos through."""

    target_crs: str | None = Field(default=None, description="Reproject to this CRS.")


class Undescribed(BaseModel):
    """Parameters with a field nobody documented."""

    model_config = ConfigDict(extra="forbid")

    target_crs: str | None = None


def _gdal(
    *args: str, name: str = "warp", output_suffix: str | None = None, **more: Any
) -> GdalStep:
    return GdalStep(
        name=name,
        description="A GDAL step.",
        program=GdalProgram.GDALWARP,
        args=args,
        output_suffix=output_suffix,
        **more,
    )


def _sql(statement: str, name: str = "tidy") -> SqlStep:
    return SqlStep(name=name, description="A SQL step.", statement=statement)


def _intent(
    *steps: Any,
    accepts: Accepts = RASTER,
    parameters: type[BaseModel] | None = None,
    name: str = "test_intent",
) -> Intent:
    """The intent; a vector one gets the load step every vector intent needs, unless it has one."""
    if accepts.file_type is FileType.VECTOR and not any(
        isinstance(step, GdalStep) and step.program is GdalProgram.OGR2OGR for step in steps
    ):
        steps = (LOAD, *steps)
    return Intent(
        name=name,
        summary="An intent under test",
        accepts=accepts,
        parameters=parameters,
        steps=steps,
    )


def _refusal(
    *steps: Any, accepts: Accepts = RASTER, parameters: type[BaseModel] | None = None
) -> str:
    """The message of the ValidationError raised when building the intent."""
    with pytest.raises(ValidationError) as raised:
        _intent(*steps, accepts=accepts, parameters=parameters)
    [error] = raised.value.errors(include_url=False)
    message = str(error["msg"])
    assert message.startswith("Value error, intent 'test_intent' is not executable: ")
    return message


# ----------------------------------------------------------------------------- placeholders


def test_minimal_raster_intent_is_valid() -> None:
    intent = _intent(_gdal("{src}", "{dst}", output_suffix=".vrt"), COG)
    assert not intent.is_vector
    assert intent.parameter_fields == frozenset()
    assert intent.export is COG
    assert intent.parameter_schema() is None


def test_unknown_placeholder_is_refused_naming_the_step() -> None:
    message = _refusal(_gdal("{src}", "{nope}"), COG)
    assert f"step 'warp': unknown placeholder {{nope}} (known: {KNOWN})" in message


def test_unknown_parameter_placeholder_is_refused() -> None:
    message = _refusal(_gdal("-t_srs", "{params.x}", "{src}"), COG, parameters=Options)
    assert (
        "step 'warp': {params.x} names no parameter (parameters: band, fast, target_crs)" in message
    )


def test_parameter_placeholder_without_parameters_model_is_refused() -> None:
    message = _refusal(_gdal("{params.x}"), COG)
    assert (
        "{params.x} names no parameter (parameters: the intent declares no parameters)" in message
    )


def test_known_parameter_placeholder_is_accepted() -> None:
    intent = _intent(_gdal("-t_srs", "{params.target_crs}", "{src}"), COG, parameters=Options)
    assert intent.parameter_fields == frozenset({"target_crs", "fast", "band"})


def test_dst_without_output_suffix_is_refused() -> None:
    message = _refusal(_gdal("{src}", "{dst}"), COG)
    assert "step 'warp': {dst} needs the step to declare output_suffix" in message


def test_output_suffix_without_dst_is_refused() -> None:
    message = _refusal(_gdal("{src}", "out.vrt", output_suffix=".vrt"), COG)
    assert "step 'warp': declares output_suffix but no argument writes {dst}" in message


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        pytest.param(
            "{src:>3}", "placeholder {src} must not have a format spec or conversion", id="spec"
        ),
        pytest.param(
            "{src!r}",
            "placeholder {src} must not have a format spec or conversion",
            id="conversion",
        ),
        pytest.param(
            "{}", "positional placeholders ({} or {0}) are not allowed; name them", id="empty"
        ),
        pytest.param(
            "{0}", "positional placeholders ({} or {0}) are not allowed; name them", id="numbered"
        ),
        pytest.param("{src", "malformed template '{src': ", id="unclosed"),
        pytest.param("src}", "malformed template 'src}': ", id="stray-close"),
        pytest.param("{params[x]}", "placeholder {params[x]} must not index", id="index"),
    ],
)
def test_template_syntax_beyond_plain_names_is_refused(template: str, problem: str) -> None:
    message = _refusal(_gdal(template), COG)
    assert f"step 'warp': {problem}" in message


@pytest.mark.parametrize(
    "template",
    ["{{x}}", "{{src}}", "-co", "A={{B}}"],
    ids=["braces", "escaped-name", "plain", "mixed"],
)
def test_escaped_braces_are_literal_text(template: str) -> None:
    intent = _intent(_gdal(template, "{src}"), COG)
    assert intent.steps[0].args[0] == template  # type: ignore[union-attr]


@pytest.mark.parametrize("placeholder", ["schema", "table", "postgis", "layer", "fid"])
def test_vector_only_placeholder_is_refused_in_a_raster_intent(placeholder: str) -> None:
    message = _refusal(_gdal(f"{{{placeholder}}}", "{src}"), COG)
    assert f"step 'warp': {{{placeholder}}} is only available to vector intents" in message


@pytest.mark.parametrize("placeholder", ["schema", "table", "postgis", "layer", "fid"])
def test_vector_only_placeholder_is_accepted_in_a_vector_intent(placeholder: str) -> None:
    intent = _intent(_gdal(f"{{{placeholder}}}", "{src}"), PARQUET, accepts=VECTOR)
    assert intent.is_vector


@pytest.mark.parametrize("placeholder", ["src", "dst", "layer", "postgis"])
def test_gdal_only_placeholder_is_refused_in_sql(placeholder: str) -> None:
    message = _refusal(_sql(f"SELECT '{{{placeholder}}}'"), PARQUET, accepts=VECTOR)
    assert f"step 'tidy': {{{placeholder}}} cannot be used in a sql template" in message


# ----------------------------------------------------------------------------- structure


def test_export_step_not_last_is_refused() -> None:
    message = _refusal(COG, _gdal("{src}"))
    assert "exactly one export step is required, and it must be the last step" in message


def test_two_export_steps_are_refused() -> None:
    second = ExportStep(name="export_again", description="Again.", format=ExportFormat.COG)
    message = _refusal(COG, second)
    assert "exactly one export step is required, and it must be the last step" in message


def test_intent_without_export_is_refused() -> None:
    message = _refusal(_gdal("{src}"))
    assert "exactly one export step is required, and it must be the last step" in message


def test_duplicate_step_names_are_refused() -> None:
    message = _refusal(_gdal("{src}", name="warp"), _gdal("{src}", name="warp"), COG)
    assert "step names must be unique (repeated: warp)" in message


def test_empty_step_list_is_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        _intent()
    [error] = raised.value.errors(include_url=False)
    assert (error["loc"], error["type"]) == (("steps",), "too_short")


def test_all_problems_of_an_intent_are_reported_together() -> None:
    message = _refusal(_gdal("{nope}", name="a"), _gdal("{dst}", name="b"), COG)
    assert "step 'a': unknown placeholder {nope}" in message
    assert "step 'b': {dst} needs the step to declare output_suffix" in message


# ----------------------------------------------------------------------------- the load's FID


def _vector_refusal(*steps: Any) -> str:
    """The refusal of a vector intent built with exactly ``steps`` (no load step added)."""
    with pytest.raises(ValidationError) as raised:
        Intent(name="test_intent", summary="An intent under test", accepts=VECTOR, steps=steps)
    [error] = raised.value.errors(include_url=False)
    return str(error["msg"])


def _load(*lco: str, name: str = "load") -> GdalStep:
    args = ("-f", "PostgreSQL", "{postgis}", "{src}", "-nln", "{table}")
    return GdalStep(
        name=name,
        description="Load.",
        program=GdalProgram.OGR2OGR,
        args=(*args, *(arg for option in lco for arg in ("-lco", option))),
    )


def test_vector_intent_without_a_load_step_is_refused() -> None:
    message = _vector_refusal(_sql("ANALYZE {schema}.{table}"), PARQUET)
    assert (
        "a vector intent loads its input with one ogr2ogr step passing -lco FID={fid} "
        "(the core counts, orders and strips features by that column)"
    ) in message


@pytest.mark.parametrize(
    "options",
    [(), ("FID=etl_fid",), ("FID=ogc_fid",), ("SCHEMA={schema}",)],
    ids=["no-lco", "literal-etl-fid", "other-fid", "other-option"],
)
def test_load_step_without_the_fid_placeholder_is_refused_by_name(options: tuple[str, ...]) -> None:
    message = _vector_refusal(_load(*options), PARQUET)
    assert "step 'load': the load must pass -lco FID={fid}" in message


def test_fid_placeholder_outside_lco_does_not_count() -> None:
    load = GdalStep(
        name="load",
        description="Load.",
        program=GdalProgram.OGR2OGR,
        args=("-f", "PostgreSQL", "{postgis}", "{src}", "-nln", "{table}", "-sql", "FID={fid}"),
    )
    assert "step 'load': the load must pass -lco FID={fid}" in _vector_refusal(load, PARQUET)


def test_two_load_steps_passing_the_fid_are_refused() -> None:
    message = _vector_refusal(_load("FID={fid}"), _load("FID={fid}", name="load_again"), PARQUET)
    assert "steps 'load', 'load_again' all pass -lco FID={fid}" in message


def test_vector_intent_with_one_fid_load_is_accepted() -> None:
    intent = Intent(
        name="test_intent",
        summary="An intent under test",
        accepts=VECTOR,
        steps=(_load("SCHEMA={schema}", "FID={fid}"), PARQUET),
    )
    assert intent.steps[0].name == "load"


def test_raster_intent_needs_no_load_step() -> None:
    assert _intent(_gdal("{src}", "{dst}", output_suffix=".vrt"), COG).steps[-1] == COG


# ----------------------------------------------------------------------------- SQL and export


def test_sql_step_in_a_raster_intent_is_refused() -> None:
    message = _refusal(_sql("SELECT 1"), COG)
    assert (
        "step 'tidy': SQL steps need vector data loaded into PostGIS; this is a raster intent"
        in message
    )


def test_sql_check_step_in_a_raster_intent_is_refused() -> None:
    check = SqlCheckStep(name="check", description="Check.", query="SELECT 1", message="bad")
    message = _refusal(check, COG)
    assert "step 'check': SQL steps need vector data loaded into PostGIS" in message


def test_sql_steps_in_a_vector_intent_are_accepted() -> None:
    check = SqlCheckStep(
        name="check",
        description="Check.",
        query="SELECT * FROM {schema}.{table} WHERE {run_id} IS NULL",
        message="bad rows",
    )
    intent = _intent(_sql("ANALYZE {schema}.{table}"), check, PARQUET, accepts=VECTOR)
    assert [step.name for step in intent.steps] == ["load", "tidy", "check", "export"]


def test_geoparquet_export_in_a_raster_intent_is_refused() -> None:
    export = ExportStep(name="export", description="x", format=ExportFormat.GEOPARQUET, table="t")
    message = _refusal(export)
    assert "step 'export': GeoParquet exports vector tables; a raster intent exports COG" in message


def test_cog_export_in_a_vector_intent_is_refused() -> None:
    message = _refusal(COG, accepts=VECTOR)
    assert "step 'export': COG exports rasters; a vector intent exports GeoParquet" in message


def test_geoparquet_export_without_table_is_refused() -> None:
    export = ExportStep(name="export", description="x", format=ExportFormat.GEOPARQUET)
    message = _refusal(export, accepts=VECTOR)
    assert "step 'export': a GeoParquet export names its table (usually '{table}')" in message


def test_geoparquet_table_template_is_checked() -> None:
    export = ExportStep(
        name="export", description="x", format=ExportFormat.GEOPARQUET, table="{src}"
    )
    message = _refusal(export, accepts=VECTOR)
    assert "step 'export': {src} cannot be used in a export template" in message


def test_cog_export_with_table_is_refused() -> None:
    export = ExportStep(name="export", description="x", format=ExportFormat.COG, table="t")
    message = _refusal(export)
    assert "a COG export exports the current dataset ({src}); it takes no table" in message


def test_creation_options_on_geoparquet_are_refused() -> None:
    export = ExportStep(
        name="export",
        description="x",
        format=ExportFormat.GEOPARQUET,
        table="{table}",
        creation_options={"COMPRESSION": "ZSTD"},
    )
    message = _refusal(export, accepts=VECTOR)
    assert "step 'export': creation_options apply to COG exports only" in message


@pytest.mark.parametrize("key", ["compress", "Compress", "COMPRESS LEVEL", "COMPRESS-LEVEL"])
def test_creation_option_key_must_be_an_upper_case_option_name(key: str) -> None:
    export = ExportStep(
        name="export", description="x", format=ExportFormat.COG, creation_options={key: "DEFLATE"}
    )
    message = _refusal(export)
    assert (
        f"step 'export': creation option {key!r} must be an upper-case GDAL option name" in message
    )


def test_creation_option_values_are_checked_as_templates() -> None:
    export = ExportStep(
        name="export",
        description="x",
        format=ExportFormat.COG,
        creation_options={"OVERVIEW_RESAMPLING": "{params.missing}"},
    )
    message = _refusal(export)
    assert "step 'export': {params.missing} names no parameter" in message


def test_export_with_when_is_refused() -> None:
    export = ExportStep(name="export", description="x", format=ExportFormat.COG, when="fast")
    message = _refusal(export, parameters=Options)
    assert "step 'export': the export step always runs; it cannot have when/unless" in message


def test_export_with_unless_is_refused() -> None:
    export = ExportStep(name="export", description="x", format=ExportFormat.COG, unless="fast")
    message = _refusal(export, parameters=Options)
    assert "the export step always runs; it cannot have when/unless" in message


# ----------------------------------------------------------------------------- conditions


def test_when_naming_an_unknown_parameter_is_refused() -> None:
    message = _refusal(_gdal("{src}", when="nope"), COG, parameters=Options)
    assert "step 'warp': when='nope' names no parameter of the intent" in message


def test_when_without_parameters_model_is_refused() -> None:
    message = _refusal(_gdal("{src}", when="fast"), COG)
    assert "step 'warp': when='fast' names no parameter of the intent" in message


@pytest.mark.parametrize("keyword", ["when", "unless"])
def test_a_condition_may_name_a_fact_of_the_input_without_parameters(keyword: str) -> None:
    intent = _intent(_gdal("{src}", **{keyword: "input.crs_missing"}), COG)
    assert getattr(intent.steps[0], keyword) == "input.crs_missing"


def test_an_unknown_fact_of_the_input_is_refused() -> None:
    message = _refusal(_gdal("{src}", when="input.crs_wrong"), COG, parameters=Options)
    assert (
        "step 'warp': when='input.crs_wrong' names no fact of the input "
        "(known: input.crs_missing)" in message
    )


def test_unless_naming_an_unknown_parameter_is_refused() -> None:
    message = _refusal(_gdal("{src}", unless="nope"), COG, parameters=Options)
    assert "step 'warp': unless='nope' names no parameter of the intent" in message


def test_when_naming_a_required_parameter_is_refused() -> None:
    message = _refusal(_gdal("{src}", when="band"), COG, parameters=Options)
    assert "step 'warp': when='band' names a required parameter, so it is always set" in message


def test_when_naming_an_optional_parameter_is_accepted() -> None:
    intent = _intent(_gdal("{src}", when="target_crs", unless="fast"), COG, parameters=Options)
    assert intent.steps[0].when == "target_crs"


# ----------------------------------------------------------------------------- parameters model


def test_parameters_model_must_forbid_extra_keys() -> None:
    message = _refusal(COG, parameters=NotForbidding)
    assert "the parameters model must set extra='forbid', so typos are reported" in message


def test_every_parameter_needs_a_description() -> None:
    message = _refusal(COG, parameters=Undescribed)
    assert "parameter 'target_crs' has no description" in message


def test_parameter_schema_is_the_models_json_schema() -> None:
    intent = _intent(COG, parameters=Options)
    assert intent.parameter_schema() == Options.model_json_schema()


# ----------------------------------------------------------------------------- accepts


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(
            {"file_type": FileType.VECTOR, "drivers": frozenset({"GTiff"})},
            "driver 'GTiff' does not read vector data",
            id="driver-not-reading-type",
        ),
        pytest.param(
            {"file_type": FileType.RASTER, "drivers": frozenset({"GeoTIFF"})},
            "'GeoTIFF' is not a GDAL file driver short name",
            id="unknown-driver",
        ),
        pytest.param(
            {"file_type": FileType.VECTOR, "drivers": frozenset({"PostgreSQL"})},
            "'PostgreSQL' is not a GDAL file driver short name",
            id="service-driver",
        ),
        pytest.param(
            {"file_type": FileType.VECTOR, "drivers": frozenset({"GPKG"})},
            "a vector intent must list the geometry kinds it accepts",
            id="vector-without-kinds",
        ),
        pytest.param(
            {
                "file_type": FileType.RASTER,
                "drivers": frozenset({"GTiff"}),
                "geometry_kinds": frozenset({GeometryKind.POINT}),
            },
            "a raster intent accepts no geometry kinds",
            id="raster-with-kinds",
        ),
    ],
)
def test_inconsistent_accepts_is_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Accepts(**arguments)
    [error] = raised.value.errors(include_url=False)
    assert error["msg"] == f"Value error, {message}"


def test_accepts_needs_a_driver() -> None:
    with pytest.raises(ValidationError) as raised:
        Accepts(file_type=FileType.RASTER, drivers=frozenset())
    [error] = raised.value.errors(include_url=False)
    assert (error["loc"], error["type"]) == (("drivers",), "too_short")


def test_driver_reading_both_types_is_accepted_for_either() -> None:
    assert Accepts(file_type=FileType.RASTER, drivers=frozenset({"GPKG"})).drivers == {"GPKG"}
    assert VECTOR.drivers == {"GPKG"}


# ----------------------------------------------------------------------------- the real plugins


def test_satellite_raster_intent_is_valid() -> None:
    intent = satellite_raster.INTENT
    assert Intent.model_validate(dict(intent)) == intent  # the declaration checks pass again
    assert intent.name == "ingest_satellite_raster"
    assert not intent.is_vector
    assert intent.parameter_fields == frozenset({"target_crs", "resampling", "overview_resampling"})
    assert intent.export.format is ExportFormat.COG
    assert intent.export.table is None
    assert [step.name for step in intent.steps] == ["assign_crs", "reproject", "export"]
    assert intent.accepts.drivers == frozenset({"GTiff", "COG", "JP2OpenJPEG", "JP2KAK", "JP2ECW"})


def test_vector_boundary_intent_is_valid() -> None:
    intent = vector_boundary.INTENT
    assert Intent.model_validate(dict(intent)) == intent
    assert intent.name == "ingest_vector_boundary"
    assert intent.is_vector
    assert intent.parameter_fields == frozenset({"layer"})
    assert intent.export.format is ExportFormat.GEOPARQUET
    assert intent.export.table == "{table}"
    assert intent.export.geometry_column == "geom"
    assert intent.accepts.geometry_kinds == frozenset({GeometryKind.POLYGON})
    assert intent.accepts.drivers == frozenset({"ESRI Shapefile", "GPKG", "GeoJSON", "FlatGeobuf"})
