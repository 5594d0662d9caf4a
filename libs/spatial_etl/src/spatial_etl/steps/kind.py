"""What a step kind is: a declaration, a recorded planned step, and the code between them.

A kind is one object (a :class:`StepKind`) so that adding one touches one module: the
declaration model, its registration checks, its placeholder filling and its execution live
together, and the rest of the core reaches them through the kind registry
(:mod:`spatial_etl.steps.registry`) by the ``kind`` field every declaration and planned step
carries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from string import Formatter
from typing import TYPE_CHECKING, Annotated, Any, Final, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, StringConstraints

from spatial_etl.errors import PlanError
from spatial_etl.models.placeholders import template_fields

if TYPE_CHECKING:
    from spatial_etl.backends.compute import PostgisCompute
    from spatial_etl.spatial_utils.runner import GdalRunner

STEP_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,62}$"
StepName = Annotated[str, StringConstraints(pattern=STEP_NAME_PATTERN)]


class StepDeclaration(BaseModel):
    """What every declared step has; a kind's declaration model adds its own fields.

    ``kind`` is a ``Literal`` in each subclass: it names the kind in the registry and tells the
    kinds apart when a declaration is read back from JSON.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(description="The step kind, as registered.")
    name: StepName = Field(description="Identifier of the step, unique within its intent.")
    description: str = Field(min_length=1, description="What the step does, for the lineage.")
    when: str | None = Field(
        default=None,
        description="Run only when this parameter is set (not None/False), or this fact of "
        "the input holds (INPUT_FACTS, e.g. 'input.crs_missing').",
    )
    unless: str | None = Field(
        default=None,
        description="Skip when this parameter is set (not None/False), or this fact of the "
        "input holds.",
    )


class PlannedStep(BaseModel):
    """A step with its placeholders filled, ready to run; recorded with the plan."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    step: str
    description: str


class IntentFacts(Protocol):
    """What a kind's registration checks may read of the intent declaring the step.

    A protocol rather than the intent model itself, because intents are built from step
    declarations: the kinds sit below the intent in the tree.
    """

    @property
    def name(self) -> str:
        """The intent's name."""

    @property
    def is_vector(self) -> bool:
        """Whether the intent processes vector data (loaded into PostGIS)."""

    @property
    def parameter_fields(self) -> frozenset[str]:
        """Names of the intent's parameters, the valid ``params.<field>`` placeholders."""

    @property
    def takes_batch(self) -> bool:
        """Whether the intent's steps take all of a batch's inputs at once (``{srcs}``)."""


@dataclass
class PlanContext:
    """What planning one step may read: the placeholder values known so far, and where to write.

    ``text`` is shared by the steps of one plan: a step that writes ``{dst}`` sets ``src`` for
    the steps after it. ``sources`` are the inputs ``{srcs}`` expands to (batch plans only).
    """

    text: dict[str, str]
    parameters: dict[str, Any]
    workdir: Path
    index: int
    position: int = 0
    sources: tuple[str, ...] = ()

    def fill(self, template: str, where: str, extra: Mapping[str, str] | None = None) -> str:
        """Fill ``template`` from ``text`` (and ``extra``, values of this step only).

        Raises :class:`PlanError` naming every placeholder that has no value.
        """
        values = {**self.text, **(extra or {})}
        missing = [name for name in template_fields(template) if name not in values]
        if missing:
            names = ", ".join("{" + name + "}" for name in missing)
            raise PlanError(f"{where}: no value for {names}")
        return _Fill().vformat(template, (), values)


@dataclass(frozen=True)
class StepContext:
    """What running one planned step may use.

    The GDAL runner, PostGIS (vector runs only) and the input file the step works on, which
    error messages name. ``removed`` collects, per step, the features a step removed on
    purpose (``SqlStep.removes_features``), which the feature count check allows for.
    """

    runner: GdalRunner
    compute: PostgisCompute | None
    source: str
    removed: dict[str, int] = field(default_factory=dict)


DeclT = TypeVar("DeclT", bound=StepDeclaration)
PlannedT = TypeVar("PlannedT", bound=PlannedStep)


class StepKind(ABC, Generic[DeclT, PlannedT]):
    """One kind of step. Subclasses set ``name``, ``declaration`` and ``planned``.

    ``name`` equals the ``kind`` literal of ``declaration``; several kinds may share a planned
    model (``sql`` and ``sql_check`` both plan a :class:`~spatial_etl.steps.sql.PlannedSql`).
    """

    name: str
    declaration: type[DeclT]
    planned: type[PlannedT]

    @abstractmethod
    def problems(self, step: DeclT, intent: IntentFacts) -> list[str]:
        """What makes ``step`` unusable in ``intent``; empty when it is fine."""

    @abstractmethod
    def plan(self, step: DeclT, context: PlanContext) -> PlannedT:
        """Fill the step's placeholders for one input."""

    @abstractmethod
    def execute(self, planned: PlannedT, context: StepContext) -> None:
        """Run the planned step; raise a :class:`spatial_etl.errors.SpatialEtlError` on failure."""

    @abstractmethod
    def describe(self, step: DeclT) -> str:
        """The step's command or statement, for ``intents show``."""


class _Fill(Formatter):
    """``str.format`` that looks dotted names (``params.x``) up whole, never as attributes."""

    def get_field(self, field_name: str, args: Any, kwargs: Any) -> tuple[Any, str]:
        return kwargs[field_name], field_name


def json_value(value: Any) -> JsonValue:
    """A parameter value as JSON: enums by value, anything unusual as text."""
    if isinstance(value, Enum):
        return value.value  # type: ignore[no-any-return]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
