"""A run's plan for one input (or a batch intent's inputs): its values and its planned steps.

Plans are recorded and shown, so they are Pydantic models; each planned step is the model of
its kind (:mod:`spatial_etl.steps`), told apart by ``kind`` when read back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, SerializeAsAny

from spatial_etl.models.manifest import ManifestFile
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.steps.export import PlannedExport
from spatial_etl.steps.kind import PlannedStep

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
    part: int | None = Field(
        default=None,
        ge=0,
        description="Which of the input's layers this is, when each layer of the input is its "
        "own dataset (Accepts.layers='each'); None otherwise.",
    )
    crs_missing: bool | None = Field(
        default=None,
        description="The file has no CRS of its own (fact 'input.crs_missing'); None before "
        "the input is inspected, when steps conditioned on it run.",
    )

    def fact(self, name: str) -> bool | None:
        """The value of one of ``INPUT_FACTS`` for this input; None when not known."""
        return {"input.crs_missing": self.crs_missing}[name]

    @property
    def table(self) -> str:
        """The table this input (or this layer of it) is loaded into, in the run's schema."""
        return f"input_{self.index}" if self.part is None else f"input_{self.index}_{self.part}"


def _planned(data: object) -> object:
    return step_kinds().planned(data)


AnyPlannedStep = Annotated[PlannedStep, SerializeAsAny(), BeforeValidator(_planned)]
"""A planned step of any registered kind."""


class Plan(BaseModel):
    """The concrete steps of one intent for one input of one run."""

    model_config = _FROZEN

    intent: str
    plugin: PluginInfo
    input: InputBinding
    inputs: tuple[InputBinding, ...] = Field(
        default=(),
        description="A batch plan's inputs, in manifest order (the first is `input`); empty "
        "for a per-file plan.",
    )
    parameters: dict[str, JsonValue]
    steps: tuple[AnyPlannedStep, ...]
    skipped: tuple[str, ...] = Field(description="Conditional steps that do not run, by name.")

    @property
    def bindings(self) -> tuple[InputBinding, ...]:
        """Every input the plan reads: the batch's, or the one input."""
        return self.inputs or (self.input,)

    @property
    def export(self) -> PlannedExport:
        """The plan's export (always its last step)."""
        last = self.steps[-1]
        assert isinstance(last, PlannedExport)  # noqa: S101 - guaranteed by Intent validation
        return last
