"""Plan resolution: placeholders filled per input, conditions decided, SQL values kept apart."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import pytest
import spatial_etl_satellite_raster as satellite_raster
import spatial_etl_vector_boundary as vector_boundary
from psycopg2 import sql
from pydantic import BaseModel, ConfigDict, Field
from pyproj import CRS
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    GdalProgram,
    GdalStep,
    Intent,
    IntentRegistry,
    hookimpl,
)
from spatial_etl.errors import PlanError
from spatial_etl.models import Manifest
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.planning import (
    InputBinding,
    Plan,
    PlannedExport,
    PlannedGdal,
    PlannedSql,
    RunValues,
    resolve_plan,
)
from spatial_etl.steps.rewrite import PlannedRewrite
from spatial_etl.testing import example_manifest, example_run, load_plugin

HOSTILE = 'x"; DROP TABLE y; --'
WKT_3857 = CRS.from_epsg(3857).to_wkt()


@pytest.fixture(scope="module")
def raster() -> RegisteredIntent:
    [registered] = load_plugin(satellite_raster, name="satellite_raster")
    return registered


@pytest.fixture(scope="module")
def vector() -> RegisteredIntent:
    [registered] = load_plugin(vector_boundary, name="vector_boundary")
    return registered


@pytest.fixture
def run(tmp_path: Path) -> RunValues:
    return example_run(tmp_path)


def _binding(manifest: Manifest, *, layer: str | None = None, index: int = 0) -> InputBinding:
    item = manifest.files[0]
    return InputBinding(
        index=index,
        file=item,
        gdal_path=f"/vsis3/{item.landing.bucket}/{item.landing.key}",
        layer=layer,
    )


def _raster_plan(
    registered: RegisteredIntent,
    run: RunValues,
    parameters: dict[str, Any] | None = None,
    crs: str = "EPSG:4326",
) -> Plan:
    manifest = example_manifest(registered, driver="GTiff", parameters=parameters, crs=crs)
    return resolve_plan(registered, manifest, _binding(manifest), run)


def _vector_plan(
    registered: RegisteredIntent, run: RunValues, *, layer: str | None = "boundaries"
) -> Plan:
    manifest = example_manifest(registered, driver="GPKG")
    return resolve_plan(registered, manifest, _binding(manifest, layer=layer), run)


def _gdal(plan: Plan, name: str) -> PlannedGdal:
    [step] = [s for s in plan.steps if s.step == name]
    assert isinstance(step, PlannedGdal)
    return step


def _sql(plan: Plan, name: str) -> PlannedSql:
    [step] = [s for s in plan.steps if s.step == name]
    assert isinstance(step, PlannedSql)
    return step


def _rewrite(plan: Plan, name: str) -> PlannedRewrite:
    [step] = [s for s in plan.steps if s.step == name]
    assert isinstance(step, PlannedRewrite)
    return step


def _follows(argv: tuple[str, ...], flag: str) -> str:
    """The argument after ``flag`` (which must occur once)."""
    assert argv.count(flag) == 1, argv
    return argv[argv.index(flag) + 1]


# ----------------------------------------------------------------------------- raster


def test_raster_plan_without_target_crs_skips_the_reprojection(
    raster: RegisteredIntent, run: RunValues
) -> None:
    plan = _raster_plan(raster, run)
    assert plan.intent == "ingest_satellite_raster"
    assert plan.plugin.name == "satellite_raster"
    assert plan.skipped == ("reproject",)
    assert [step.step for step in plan.steps] == ["assign_crs", "export"]
    assert plan.parameters == {
        "target_crs": None,
        "resampling": "nearest",
        "overview_resampling": "nearest",
    }


def test_raster_assign_crs_writes_a_vrt_in_the_workdir(
    raster: RegisteredIntent, run: RunValues
) -> None:
    plan = _raster_plan(raster, run)
    assign = _gdal(plan, "assign_crs")
    output = str(run.workdir / "input0-00-assign_crs.vrt")
    assert assign.output == output
    assert assign.argv == (
        "gdal_translate",
        "-of",
        "VRT",
        "-a_srs",
        "EPSG:4326",
        "-if",
        "GTiff",
        "/vsis3/landing-zone/example_batch/example.tif",
        output,
    )


def test_raster_export_without_reprojection_reads_the_assign_crs_output(
    raster: RegisteredIntent, run: RunValues
) -> None:
    plan = _raster_plan(raster, run)
    assert isinstance(plan.export, PlannedExport)
    assert plan.export.format is ExportFormat.COG
    assert plan.export.source == _gdal(plan, "assign_crs").output


@pytest.mark.parametrize(
    ("crs_missing", "steps", "skipped"),
    [
        (True, ["assign_crs", "export"], ("reproject",)),
        (False, ["export"], ("assign_crs", "reproject")),
        (None, ["assign_crs", "export"], ("reproject",)),  # not inspected: the step runs
    ],
)
def test_assign_crs_runs_only_when_the_input_has_no_crs(
    raster: RegisteredIntent,
    run: RunValues,
    crs_missing: bool | None,
    steps: list[str],
    skipped: tuple[str, ...],
) -> None:
    manifest = example_manifest(raster, driver="GTiff")
    binding = _binding(manifest).model_copy(update={"crs_missing": crs_missing})
    plan = resolve_plan(raster, manifest, binding, run)
    assert [step.step for step in plan.steps] == steps
    assert plan.skipped == skipped
    if crs_missing is False:  # the export reads the raw input, restricted to its driver
        assert plan.export.source == binding.gdal_path


def test_a_file_with_its_crs_is_warped_from_the_raw_input_restricted_to_its_driver(
    raster: RegisteredIntent, run: RunValues
) -> None:
    manifest = example_manifest(raster, driver="GTiff", parameters={"target_crs": "EPSG:3857"})
    binding = _binding(manifest).model_copy(update={"crs_missing": False})
    plan = resolve_plan(raster, manifest, binding, run)
    assert [step.step for step in plan.steps] == ["reproject", "export"]
    argv = _gdal(plan, "reproject").argv
    assert argv[argv.index(binding.gdal_path) - 2 : argv.index(binding.gdal_path)] == (
        "-if",
        "GTiff",
    )


def test_unless_an_input_fact_skips_the_step_when_it_holds(run: RunValues) -> None:
    intent = Intent(
        name="facts",
        summary="Facts of the input in conditions.",
        accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"})),
        steps=(
            GdalStep(
                name="only_with_crs",
                description="Runs unless the file lacks a CRS.",
                unless="input.crs_missing",
                program=GdalProgram.GDAL_TRANSLATE,
                args=("-of", "VRT", "{src}", "{dst}"),
                output_suffix=".vrt",
            ),
            ExportStep(name="export", description="COG.", format=ExportFormat.COG),
        ),
    )
    [registered] = load_plugin(_OnePlugin(intent), name="facts")
    manifest = example_manifest(registered, driver="GTiff")
    for missing, ran in ((True, False), (False, True), (None, True)):
        binding = _binding(manifest).model_copy(update={"crs_missing": missing})
        plan = resolve_plan(registered, manifest, binding, run)
        assert ("only_with_crs" in [s.step for s in plan.steps]) is ran, missing


class _OnePlugin:
    """Registers one intent."""

    def __init__(self, intent: Intent) -> None:
        self.intent = intent

    @hookimpl
    def register_intents(self, registry: IntentRegistry) -> None:
        registry.register(self.intent)


def test_raster_plan_with_target_crs_warps(raster: RegisteredIntent, run: RunValues) -> None:
    plan = _raster_plan(raster, run, {"target_crs": "EPSG:3857", "resampling": "bilinear"})
    assert plan.skipped == ()
    assert [step.step for step in plan.steps] == ["assign_crs", "reproject", "export"]
    assign, warp = _gdal(plan, "assign_crs"), _gdal(plan, "reproject")
    output = str(run.workdir / "input0-01-reproject.vrt")
    assert warp.output == output
    assert warp.argv == (
        "gdalwarp",
        "-of",
        "VRT",
        "-t_srs",
        "EPSG:3857",
        "-r",
        "bilinear",
        assign.output,
        output,
    )
    assert plan.export.source == output
    assert plan.parameters["target_crs"] == "EPSG:3857"
    assert plan.parameters["resampling"] == "bilinear"


def test_raster_creation_options_are_filled_from_parameters(
    raster: RegisteredIntent, run: RunValues
) -> None:
    plan = _raster_plan(raster, run, {"overview_resampling": "average"})
    assert plan.export.creation_options == {
        "COMPRESS": "DEFLATE",
        "PREDICTOR": "YES",
        "BLOCKSIZE": "512",
        "OVERVIEWS": "IGNORE_EXISTING",
        "OVERVIEW_RESAMPLING": "average",
        "BIGTIFF": "IF_SAFER",
        "NUM_THREADS": "ALL_CPUS",
    }


def test_raster_default_overview_resampling_is_nearest(
    raster: RegisteredIntent, run: RunValues
) -> None:
    plan = _raster_plan(raster, run)
    assert plan.export.creation_options["OVERVIEW_RESAMPLING"] == "nearest"


def test_each_placeholder_fills_exactly_one_argument(
    raster: RegisteredIntent, run: RunValues
) -> None:
    plan = _raster_plan(raster, run, {"target_crs": WKT_3857}, crs=WKT_3857)
    assert " " in WKT_3857
    assign, warp = _gdal(plan, "assign_crs"), _gdal(plan, "reproject")
    # + 2: "-if <declared driver>" before the raw input (the warp reads the platform's VRT)
    assert len(assign.argv) == 1 + 2 + len(raster.intent.steps[0].args)  # type: ignore[union-attr]
    assert len(warp.argv) == 1 + len(raster.intent.steps[1].args)  # type: ignore[union-attr]
    assert _follows(assign.argv, "-a_srs") == WKT_3857
    assert _follows(warp.argv, "-t_srs") == WKT_3857


def test_input_index_names_the_work_files(raster: RegisteredIntent, run: RunValues) -> None:
    manifest = example_manifest(raster, driver="GTiff")
    plan = resolve_plan(raster, manifest, _binding(manifest, index=3), run)
    assert _gdal(plan, "assign_crs").output == str(run.workdir / "input3-00-assign_crs.vrt")
    assert plan.input.index == 3


def test_invalid_parameters_raise_plan_error(raster: RegisteredIntent, run: RunValues) -> None:
    with pytest.raises(PlanError, match=r"^invalid parameters for 'ingest_satellite_raster': "):
        _raster_plan(raster, run, {"resampling": "sideways"})


def test_unknown_parameter_raises_plan_error(raster: RegisteredIntent, run: RunValues) -> None:
    with pytest.raises(PlanError) as raised:
        _raster_plan(raster, run, {"bogus": 1})
    assert "invalid parameters for 'ingest_satellite_raster'" in str(raised.value)
    assert "bogus" in str(raised.value)


# ----------------------------------------------------------------------------- vector


def test_vector_load_argv(vector: RegisteredIntent, run: RunValues) -> None:
    plan = _vector_plan(vector, run)
    load = _gdal(plan, "load")
    argv = load.argv
    assert argv[0] == "ogr2ogr"
    assert load.output is None
    assert run.postgis is not None
    assert argv[1:6] == (
        "-f",
        "PostgreSQL",
        run.postgis,
        "/vsis3/landing-zone/example_batch/example.gpkg",
        "boundaries",
    )
    assert _follows(argv, "-nln") == "input_0"
    assert "SCHEMA=proc_0f2c4e1a5b6d4c8e" in argv
    assert argv[argv.index("SCHEMA=proc_0f2c4e1a5b6d4c8e") - 1] == "-lco"
    assert argv[argv.index("FID=etl_fid") - 1] == "-lco"  # {fid}: the core's column
    assert _follows(argv, "-a_srs") == "EPSG:4326"


def test_vector_plan_steps_and_export(vector: RegisteredIntent, run: RunValues) -> None:
    plan = _vector_plan(vector, run)
    assert [step.step for step in plan.steps] == ["load", "require_polygons", "normalise", "export"]
    assert plan.skipped == ()
    assert plan.parameters == {"layer": None}
    assert plan.export.format is ExportFormat.GEOPARQUET
    assert plan.export.source == "input_0"
    assert plan.export.geometry_column == "geom"
    assert plan.export.creation_options == {}


def test_vector_table_follows_the_input_index(vector: RegisteredIntent, run: RunValues) -> None:
    manifest = example_manifest(vector, driver="GPKG")
    plan = resolve_plan(vector, manifest, _binding(manifest, layer="a", index=2), run)
    assert _follows(_gdal(plan, "load").argv, "-nln") == "input_2"
    assert _rewrite(plan, "normalise").table == "input_2"
    assert plan.export.source == "input_2"


def test_sql_steps_keep_identifiers_out_of_the_template(
    vector: RegisteredIntent, run: RunValues
) -> None:
    plan = _vector_plan(vector, run)
    check = _sql(plan, "require_polygons")
    assert check.kind == "sql_check"
    assert check.template == vector.intent.steps[1].query  # type: ignore[union-attr]
    assert "{schema}.{table}" in check.template
    assert "proc_" not in check.template
    assert check.identifiers == {
        "fid": "etl_fid",
        "schema": "proc_0f2c4e1a5b6d4c8e",
        "table": "input_0",
    }
    assert check.literals == {}
    assert check.message is not None
    assert "polygon" in check.message
    normalise = _rewrite(plan, "normalise")
    assert normalise.kind == "rewrite"
    assert (normalise.schema_name, normalise.table) == ("proc_0f2c4e1a5b6d4c8e", "input_0")
    assert (normalise.column, normalise.type) == ("geom", "geometry(MultiPolygon, 4326)")
    assert "proc_" not in normalise.template
    assert normalise.template.startswith("ST_Transform(ST_Multi(")


def test_sql_compose_returns_a_composed_statement(vector: RegisteredIntent, run: RunValues) -> None:
    plan = _vector_plan(vector, run)
    for step in plan.steps:
        if isinstance(step, PlannedSql):
            assert isinstance(step.compose(), sql.Composed)


def test_hostile_schema_name_stays_an_identifier(vector: RegisteredIntent, tmp_path: Path) -> None:
    run = RunValues(run_id="r1", schema_name=HOSTILE, workdir=tmp_path, postgis="PG:dbname=compute")
    plan = _vector_plan(vector, run)
    for step in plan.steps:
        if isinstance(step, PlannedSql):
            assert step.identifiers["schema"] == HOSTILE
            assert "DROP TABLE" not in step.template
            assert HOSTILE not in step.literals.values()
            assert isinstance(step.compose(), sql.Composed)
    assert "SCHEMA=" + HOSTILE in _gdal(plan, "load").argv


def test_hostile_layer_is_one_argument(vector: RegisteredIntent, run: RunValues) -> None:
    plan = _vector_plan(vector, run, layer=HOSTILE)
    argv = _gdal(plan, "load").argv
    assert argv[5] == HOSTILE
    assert len(argv) == 1 + len(vector.intent.steps[0].args)  # type: ignore[union-attr]
    for step in plan.steps:
        if isinstance(step, PlannedSql):
            assert HOSTILE not in step.template


def test_vector_plan_without_postgis_names_the_placeholder(
    vector: RegisteredIntent, tmp_path: Path
) -> None:
    run = RunValues(run_id="r1", schema_name="proc_r1", workdir=tmp_path, postgis=None)
    with pytest.raises(PlanError, match=r"^step 'load': no value for \{postgis\}$"):
        _vector_plan(vector, run)


def test_vector_plan_without_layer_names_the_placeholder(
    vector: RegisteredIntent, run: RunValues
) -> None:
    with pytest.raises(PlanError, match=r"^step 'load': no value for \{layer\}$"):
        _vector_plan(vector, run, layer=None)


# ----------------------------------------------------------------------------- rendering


class Quality(Enum):
    """A plain (non-str) enum: it must render by value, never as ``Quality.HIGH``."""

    HIGH = "high_quality"
    LOW = "low_quality"


class TuneParameters(BaseModel):
    """Parameters of the test intent."""

    model_config = ConfigDict(extra="forbid")

    add_alpha: bool = Field(default=False, description="Add an alpha band.")
    quality: Quality = Field(default=Quality.HIGH, description="Quality level.")
    note: str | None = Field(default=None, description="Free text, used only when given.")
    level: int = Field(default=6, description="A number.")


TUNE = Intent(
    name="tune_raster",
    summary="Test intent with boolean, enum and optional parameters",
    accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"})),
    parameters=TuneParameters,
    steps=(
        GdalStep(
            name="translate",
            description="Always runs.",
            program=GdalProgram.GDAL_TRANSLATE,
            args=(
                "-co",
                "ALPHA={params.add_alpha}",
                "-co",
                "QUALITY={params.quality}",
                "-co",
                "LEVEL={params.level}",
                "-mo",
                "{{literal}}",
                "{src}",
                "{dst}",
            ),
            output_suffix=".tif",
        ),
        GdalStep(
            name="alpha",
            description="Runs only with add_alpha.",
            when="add_alpha",
            program=GdalProgram.GDALWARP,
            args=("-dstalpha", "{src}", "{dst}"),
            output_suffix=".vrt",
        ),
        GdalStep(
            name="annotate",
            description="Runs only with a note.",
            when="note",
            program=GdalProgram.GDAL_TRANSLATE,
            args=("-mo", "NOTE={params.note}", "{src}", "{dst}"),
            output_suffix=".vrt",
        ),
        GdalStep(
            name="fallback",
            description="Skipped when add_alpha is set.",
            unless="add_alpha",
            program=GdalProgram.GDALADDO,
            args=("{src}",),
        ),
        ExportStep(
            name="export",
            description="Write a COG.",
            format=ExportFormat.COG,
            creation_options={"ALPHA": "{params.add_alpha}", "Q": "{params.quality}"},
        ),
    ),
)


class TunePlugin:
    """Registers :data:`TUNE`."""

    @hookimpl
    def register_intents(self, registry: IntentRegistry) -> None:
        registry.register(TUNE)


@pytest.fixture(scope="module")
def tune() -> RegisteredIntent:
    [registered] = load_plugin(TunePlugin(), name="tune_plugin")
    return registered


def _tune_plan(tune: RegisteredIntent, run: RunValues, parameters: dict[str, Any]) -> Plan:
    manifest = example_manifest(tune, parameters=parameters)
    return resolve_plan(tune, manifest, _binding(manifest), run)


def test_boolean_false_renders_no_and_skips_when_steps(
    tune: RegisteredIntent, run: RunValues
) -> None:
    plan = _tune_plan(tune, run, {})
    assert plan.skipped == ("alpha", "annotate")
    argv = _gdal(plan, "translate").argv
    assert "ALPHA=NO" in argv
    assert plan.export.creation_options["ALPHA"] == "NO"
    assert plan.parameters["add_alpha"] is False


def test_boolean_true_renders_yes_and_runs_when_steps(
    tune: RegisteredIntent, run: RunValues
) -> None:
    plan = _tune_plan(tune, run, {"add_alpha": True})
    assert plan.skipped == ("annotate", "fallback")
    assert "ALPHA=YES" in _gdal(plan, "translate").argv
    alpha = _gdal(plan, "alpha")
    assert alpha.argv[2] == _gdal(plan, "translate").output
    assert plan.export.creation_options["ALPHA"] == "YES"
    assert plan.export.source == alpha.output
    assert plan.parameters["add_alpha"] is True


def test_enum_renders_by_value(tune: RegisteredIntent, run: RunValues) -> None:
    plan = _tune_plan(tune, run, {"quality": "low_quality"})
    assert "QUALITY=low_quality" in _gdal(plan, "translate").argv
    assert plan.export.creation_options["Q"] == "low_quality"
    assert plan.parameters["quality"] == "low_quality"


def test_default_enum_renders_by_value(tune: RegisteredIntent, run: RunValues) -> None:
    plan = _tune_plan(tune, run, {})
    assert "QUALITY=high_quality" in _gdal(plan, "translate").argv


def test_integer_renders_as_text(tune: RegisteredIntent, run: RunValues) -> None:
    plan = _tune_plan(tune, run, {"level": 9})
    assert "LEVEL=9" in _gdal(plan, "translate").argv
    assert plan.parameters["level"] == 9


def test_escaped_braces_render_as_literal_braces(tune: RegisteredIntent, run: RunValues) -> None:
    plan = _tune_plan(tune, run, {})
    assert "{literal}" in _gdal(plan, "translate").argv


def test_optional_parameter_step_runs_when_given(tune: RegisteredIntent, run: RunValues) -> None:
    plan = _tune_plan(tune, run, {"note": "a b; c"})
    assert plan.skipped == ("alpha",)
    annotate = _gdal(plan, "annotate")
    assert annotate.argv[1:3] == ("-mo", "NOTE=a b; c")
    assert annotate.argv[3] == _gdal(plan, "translate").output


def test_step_without_output_keeps_the_current_dataset(
    tune: RegisteredIntent, run: RunValues
) -> None:
    plan = _tune_plan(tune, run, {})
    fallback = _gdal(plan, "fallback")
    assert fallback.output is None
    assert fallback.argv == ("gdaladdo", _gdal(plan, "translate").output)
    assert plan.export.source == _gdal(plan, "translate").output


def test_bad_tune_parameter_raises_plan_error(tune: RegisteredIntent, run: RunValues) -> None:
    with pytest.raises(PlanError, match=r"^invalid parameters for 'tune_raster': "):
        _tune_plan(tune, run, {"quality": "medium"})
