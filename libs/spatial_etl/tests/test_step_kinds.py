"""Step kinds are units in a registry: the core's own and a plugin's go through the same hook."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pluggy
import pytest
import spatial_etl_satellite_raster as satellite_raster
from pydantic import ValidationError
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    GdalProgram,
    GdalStep,
    Intent,
    IntentRegistry,
    SqlCheckStep,
    SqlStep,
    hookimpl,
)
from spatial_etl import Intent as IntentModel
from spatial_etl.errors import StepError, StepKindError
from spatial_etl.models.placeholders import Usage, check_template
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.plugins import hookspecs
from spatial_etl.plugins import kinds as builtin
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.run.planning import InputBinding, Plan, PlannedExport, resolve_plan
from spatial_etl.run.products import run_steps
from spatial_etl.steps import (
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
    StepKindRegistry,
)
from spatial_etl.steps.gdal import GdalKind
from spatial_etl.testing import FakeGdalRunner, example_manifest, example_run, load_plugin

# ----------------------------------------------------------------------------- a tiny test kind


class StatStep(StepDeclaration):
    """Read a dataset's metadata with gdalinfo (a kind only these tests register)."""

    kind: Literal["stat"] = "stat"
    target: str


class PlannedStat(PlannedStep):
    kind: Literal["stat"] = "stat"
    target: str


class StatKind(StepKind[StatStep, PlannedStat]):
    name = "stat"
    declaration = StatStep
    planned = PlannedStat

    def problems(self, step: StatStep, intent: Intent) -> list[str]:
        return check_template(
            step.target,
            Usage.GDAL,
            vector=intent.is_vector,
            parameter_fields=intent.parameter_fields,
        )

    def plan(self, step: StatStep, context: PlanContext) -> PlannedStat:
        target = context.fill(step.target, f"step {step.name!r}")
        return PlannedStat(step=step.name, description=step.description, target=target)

    def execute(self, planned: PlannedStat, context: StepContext) -> None:
        context.runner.run(["gdalinfo", "-json", planned.target])

    def describe(self, step: StatStep) -> str:
        return f"gdalinfo -json {step.target}"


COG = ExportStep(name="export", description="Write a COG.", format=ExportFormat.COG)
RASTER = Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"}))


def _stat_intent(target: str = "{src}") -> Intent:
    return Intent(
        name="stat_then_export",
        summary="Reads the input's metadata, then exports it",
        accepts=RASTER,
        steps=(StatStep(name="stat", description="Look at the input.", target=target), COG),
    )


class StatPlugin:
    """A plugin contributing the ``stat`` kind and an intent that uses it."""

    @hookimpl
    def register_step_kinds(self, kinds: StepKindRegistry) -> None:
        kinds.register(StatKind())

    @hookimpl
    def register_intents(self, registry: IntentRegistry) -> None:
        registry.register(_stat_intent())


# ----------------------------------------------------------------------------- built-in kinds


def test_builtin_kinds_register_through_the_plugin_hook() -> None:
    kinds = StepKindRegistry()
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(builtin)
    manager.hook.register_step_kinds(kinds=kinds)
    assert kinds.names() == ["gdal", "sql", "sql_check", "rewrite", "export"]
    assert step_kinds().names()[:5] == ["gdal", "sql", "sql_check", "rewrite", "export"]


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        (
            GdalStep(name="a", description="d", program=GdalProgram.GDALWARP, args=("{src}",)),
            "gdal",
        ),
        (SqlStep(name="a", description="d", statement="SELECT 1"), "sql"),
        (SqlCheckStep(name="a", description="d", query="SELECT 1", message="m"), "sql_check"),
        (COG, "export"),
    ],
)
def test_each_declaration_finds_its_kind(step: StepDeclaration, kind: str) -> None:
    found = step_kinds().for_step(step)
    assert found.name == kind
    assert isinstance(step, found.declaration)


def test_kinds_describe_their_steps_for_display() -> None:
    kinds = step_kinds()
    gdal = GdalStep(
        name="a", description="d", program=GdalProgram.GDALWARP, args=("-t_srs", "a b", "{src}")
    )
    check = SqlCheckStep(name="c", description="d", query="SELECT 1", message="bad")
    export = COG.model_copy(update={"creation_options": {"COMPRESS": "DEFLATE"}})
    assert kinds.for_step(gdal).describe(gdal) == "gdalwarp -t_srs 'a b' {src}"
    assert kinds.for_step(check).describe(check) == "SELECT 1\n   fails with: bad"
    assert kinds.for_step(export).describe(export) == "format COG, -co COMPRESS=DEFLATE"


def test_an_intent_read_back_from_json_gets_each_steps_own_model() -> None:
    intent = satellite_raster.INTENT
    steps = [step.model_dump(mode="json") for step in intent.steps]
    again = IntentModel.model_validate(intent.model_dump(exclude={"steps"}) | {"steps": steps})
    assert [type(step) for step in again.steps] == [type(step) for step in intent.steps]
    assert again.steps == intent.steps


# ----------------------------------------------------------------------------- a plugin's kind


def test_a_plugin_kind_is_declared_planned_recorded_and_run(tmp_path: Path) -> None:
    [registered] = load_plugin(StatPlugin(), name="stat_plugin")
    manifest = example_manifest(registered)
    item = manifest.files[0]
    gdal_path = f"/vsis3/{item.landing.bucket}/{item.landing.key}"
    binding = InputBinding(index=0, file=item, gdal_path=gdal_path)
    plan = resolve_plan(registered, manifest, binding, example_run(tmp_path))

    stat, export = plan.steps
    assert isinstance(stat, PlannedStat)
    assert stat.target == gdal_path
    assert isinstance(export, PlannedExport)
    assert export.source == gdal_path  # the stat step wrote no {dst}

    recorded = Plan.model_validate_json(plan.model_dump_json())
    assert recorded == plan
    assert isinstance(recorded.steps[0], PlannedStat)

    fake = FakeGdalRunner().respond("gdalinfo", stdout="{}")
    run_steps(plan, fake, None, item.path)
    assert fake.calls == [("gdalinfo", "-json", gdal_path)]


def test_a_plugin_kind_failing_names_its_step_and_file(tmp_path: Path) -> None:
    [registered] = load_plugin(StatPlugin(), name="stat_plugin")
    manifest = example_manifest(registered)
    item = manifest.files[0]
    binding = InputBinding(index=0, file=item, gdal_path="/tmp/x.tif")
    plan = resolve_plan(registered, manifest, binding, example_run(tmp_path))
    fake = FakeGdalRunner().respond("gdalinfo", stderr="not recognized", returncode=1)
    with pytest.raises(StepError) as raised:
        run_steps(plan, fake, None, item.path)
    assert raised.value.step == "stat"
    assert raised.value.file == item.path
    assert "not recognized" in str(raised.value)


def test_a_plugin_kind_is_checked_at_registration() -> None:
    StatPlugin().register_step_kinds(step_kinds())
    with pytest.raises(ValidationError, match=r"step 'stat': unknown placeholder \{nope\}"):
        _stat_intent("{nope}")


def test_an_unregistered_kind_is_refused_naming_the_step() -> None:
    class OrphanStep(StepDeclaration):
        kind: Literal["orphan"] = "orphan"

    with pytest.raises(ValidationError) as raised:
        Intent(
            name="orphan_intent",
            summary="Uses a kind nobody registered",
            accepts=RASTER,
            steps=(OrphanStep(name="lost", description="?"), COG),
        )
    assert (
        "step 'lost': step kind 'orphan' is not registered (known: gdal, sql, sql_check, rewrite, export"
        in str(raised.value)
    )


def test_a_second_kind_under_a_taken_name_is_refused() -> None:
    class AnotherGdal(GdalKind):
        pass

    with pytest.raises(StepKindError, match="step kind 'gdal' is already registered by GdalKind"):
        step_kinds().register(AnotherGdal())
    step_kinds().register(GdalKind())  # the same kind again is harmless
    assert step_kinds().names().count("gdal") == 1


def test_a_plugin_registering_a_taken_kind_fails_alone() -> None:
    class Squatter:
        @hookimpl
        def register_step_kinds(self, kinds: StepKindRegistry) -> None:
            class NotReallyGdal(GdalKind):
                pass

            kinds.register(NotReallyGdal())

    catalog = load_plugins(extra=[(PluginInfo(name="squatter", module="tests"), Squatter())])
    [failure] = [f for f in catalog.failures if f.name == "squatter"]
    assert failure.stage == "register"
    assert failure.reason.startswith("StepKindError: step kind 'gdal' is already registered")


def test_a_kind_whose_name_differs_from_its_declaration_is_refused() -> None:
    class Misnamed(StatKind):
        name = "statistics"

    with pytest.raises(StepKindError, match="has kind='stat'; the two must be equal"):
        StepKindRegistry().register(Misnamed())


def test_unknown_kind_in_recorded_data_names_the_known_ones() -> None:
    with pytest.raises(StepKindError, match="step kind 'teleport' is not registered"):
        step_kinds().planned({"kind": "teleport", "step": "x", "description": "y"})
