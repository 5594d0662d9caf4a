"""Step events: each step that ends is reported with its duration, and a failure is located."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    Intent,
    IntentRegistry,
    hookimpl,
)
from spatial_etl.run.executor import run_error
from spatial_etl.run.planning import InputBinding, Plan, resolve_plan
from spatial_etl.run.products import run_steps
from spatial_etl.run.step_events import (
    StepEvent,
    failed_step,
    name_datasets,
    observing,
    timed_step,
)
from spatial_etl.steps import (
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
    StepKindRegistry,
)
from spatial_etl.testing import FakeGdalRunner, example_manifest, example_run, load_plugin


class ProbeStep(StepDeclaration):
    """Calls gdalinfo, or raises a plain Python error when told to (a buggy plugin kind)."""

    kind: Literal["probe"] = "probe"
    explode: bool = False


class PlannedProbe(PlannedStep):
    kind: Literal["probe"] = "probe"
    explode: bool = False


class ProbeKind(StepKind[ProbeStep, PlannedProbe]):
    name = "probe"
    declaration = ProbeStep
    planned = PlannedProbe

    def problems(self, step: ProbeStep, intent: Intent) -> list[str]:
        return []

    def plan(self, step: ProbeStep, context: PlanContext) -> PlannedProbe:
        return PlannedProbe(step=step.name, description=step.description, explode=step.explode)

    def execute(self, planned: PlannedProbe, context: StepContext) -> None:
        if planned.explode:
            raise KeyError("coordinateSystem")
        context.runner.run(["gdalinfo", "--version"])

    def describe(self, step: ProbeStep) -> str:
        return "probe"


class ProbePlugin:
    def __init__(self, *, explode: bool) -> None:
        self.explode = explode

    @hookimpl
    def register_step_kinds(self, kinds: StepKindRegistry) -> None:
        kinds.register(ProbeKind())

    @hookimpl
    def register_intents(self, registry: IntentRegistry) -> None:
        registry.register(
            Intent(
                name="probe_twice",
                summary="Two probes, then a COG",
                accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"})),
                steps=(
                    ProbeStep(name="first", description="Look."),
                    ProbeStep(name="second", description="Look again.", explode=self.explode),
                    ExportStep(name="export", description="COG.", format=ExportFormat.COG),
                ),
            )
        )


def _plan(tmp_path: Path, *, explode: bool) -> tuple[Plan, str]:
    [registered] = load_plugin(ProbePlugin(explode=explode), name=f"probe_{explode}")
    manifest = example_manifest(registered)
    item = manifest.files[0]
    binding = InputBinding(index=0, file=item, gdal_path=str(tmp_path / "x.tif"))
    return resolve_plan(registered, manifest, binding, example_run(tmp_path)), item.path


def test_each_step_that_ran_is_an_event_with_its_kind_file_dataset_and_duration(
    tmp_path: Path,
) -> None:
    plan, path = _plan(tmp_path, explode=False)
    events: list[StepEvent] = []
    with observing(events.append):
        name_datasets({path: "scene"})
        run_steps(plan, FakeGdalRunner().respond("gdalinfo", stdout="GDAL 3.6"), None, path)
    # the export writes the product after the chain: the pipeline reports it, not run_steps
    assert [(e.step, e.kind, e.status, e.file, e.dataset) for e in events] == [
        ("first", "probe", "succeeded", path, "scene"),
        ("second", "probe", "succeeded", path, "scene"),
    ]
    assert all(e.seconds >= 0 and e.error is None for e in events)


def test_a_plain_python_error_in_a_plugin_step_is_located_at_that_step(tmp_path: Path) -> None:
    plan, path = _plan(tmp_path, explode=True)
    events: list[StepEvent] = []
    with observing(events.append):
        with pytest.raises(KeyError) as raised:
            run_steps(plan, FakeGdalRunner().respond("gdalinfo", stdout="GDAL 3.6"), None, path)
        assert failed_step(raised.value) == ("second", path)
        recorded = run_error(raised.value)
    assert (recorded.type, recorded.step, recorded.file) == ("KeyError", "second", path)
    assert [(e.step, e.status) for e in events] == [("first", "succeeded"), ("second", "failed")]
    assert events[-1].error == "'coordinateSystem'"
    assert run_error(raised.value).step is None  # outside its run, nothing is remembered


def _wrapped_failure() -> None:
    try:
        with timed_step("load", "gdal", "s3://landing-zone/b/x.gpkg"):
            raise OSError("disk full")
    except OSError as error:
        raise RuntimeError("wrapped") from error


def test_an_error_raised_from_a_steps_error_keeps_the_location() -> None:
    with observing(None):
        with pytest.raises(RuntimeError) as raised:
            _wrapped_failure()
        assert failed_step(raised.value) == ("load", "s3://landing-zone/b/x.gpkg")
        assert failed_step(RuntimeError("elsewhere")) is None


def test_a_failing_observer_never_changes_the_run() -> None:
    def broken(event: StepEvent) -> None:
        raise ValueError("observer bug")

    with observing(broken), timed_step("load", "gdal", None):
        pass  # no exception escapes
