"""What a plugin declares: an intent, the inputs it accepts and the steps that process them.

An :class:`Intent` validates itself completely when it is built, which happens while the plugin
registers: a bad placeholder, a missing export or a step that cannot apply to the intent's data
is refused then, with the step named, instead of when a user's run reaches it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SerializeAsAny, model_validator

from spatial_etl.errors import StepKindError
from spatial_etl.models.drivers import FILE_DRIVERS, REFERENCING_DRIVERS
from spatial_etl.models.kinds import FileType, GeometryKind
from spatial_etl.models.manifest import IntentName
from spatial_etl.models.placeholders import INPUT_FACTS, SRCS_ARGUMENT
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.steps.export import ExportStep
from spatial_etl.steps.gdal import GdalStep, fid_problems
from spatial_etl.steps.kind import StepDeclaration


def _declared(data: Any) -> Any:
    return step_kinds().declaration(data)


DeclaredStep = Annotated[StepDeclaration, SerializeAsAny(), BeforeValidator(_declared)]
"""A step of a registered kind; read back from JSON, ``kind`` picks its model."""


class Accepts(BaseModel):
    """The inputs an intent can process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file_type: FileType = Field(description="Raster or vector: an intent handles one kind.")
    drivers: frozenset[str] = Field(
        min_length=1, description="GDAL driver short names the intent reads."
    )
    geometry_kinds: frozenset[GeometryKind] = Field(
        default=frozenset(), description="Vector only: the geometry families the intent accepts."
    )
    layers: Literal["one", "each"] = Field(
        default="one",
        description="Vector only. 'one': an input with several layers needs the 'layer' "
        "parameter to choose. 'each': every layer of an input becomes its own dataset "
        "('<dataset>_<layer>' when the input has several), unless the 'layer' parameter "
        "names one.",
    )
    meta_drivers: frozenset[str] = Field(
        default=frozenset(),
        description="Drivers of `drivers` whose files reference other files (VRT, OGR_VRT, "
        "MRF...) that the intent explicitly accepts; their references must stay inside the "
        "input's own folder. Files of such formats are refused unless listed here.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for driver in sorted(self.drivers):
            kinds = FILE_DRIVERS.get(driver)
            if kinds is None:
                raise ValueError(f"{driver!r} is not a GDAL file driver short name")
            if self.file_type not in kinds:
                raise ValueError(f"driver {driver!r} does not read {self.file_type.value} data")
        for driver in sorted(self.meta_drivers):
            if driver not in self.drivers:
                raise ValueError(f"meta driver {driver!r} is not one of the accepted drivers")
            if driver not in REFERENCING_DRIVERS:
                raise ValueError(f"{driver!r} is not a driver whose files reference others")
        if self.file_type is FileType.VECTOR and not self.geometry_kinds:
            raise ValueError("a vector intent must list the geometry kinds it accepts")
        if self.file_type is FileType.RASTER and self.geometry_kinds:
            raise ValueError("a raster intent accepts no geometry kinds")
        if self.file_type is FileType.RASTER and self.layers != "one":
            raise ValueError("layers='each' applies to vector intents only")
        return self


class Intent(BaseModel):
    """A kind of data the platform can ingest, declared by a plugin.

    ``parameters`` is an optional Pydantic model; a manifest's ``metadata.parameters`` is
    validated against it, and its fields are the ``{params.<field>}`` placeholders.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: IntentName = Field(description="The manifest's `intent` value that selects this intent.")
    summary: str = Field(min_length=1, max_length=120, description="One line for listings.")
    description: str = Field(default="", description="Longer help: what it does and why.")
    accepts: Accepts = Field(description="The inputs the intent can process.")
    parameters: type[BaseModel] | None = Field(
        default=None, description="Model of the intent's parameters, if it has any."
    )
    steps: tuple[DeclaredStep, ...] = Field(
        min_length=1, description="Ordered steps; the last exports."
    )
    inputs: Literal["file", "batch"] = Field(
        default="file",
        description="'file': one plan and one product per manifest file. 'batch' (raster "
        "intents): all files of the batch are one product; the first step reads them all "
        "through {srcs} and writes {dst}, and they must agree on CRS, data type, band count "
        "and nodata.",
    )

    @property
    def is_vector(self) -> bool:
        """Whether the intent processes vector data (and so uses PostGIS)."""
        return self.accepts.file_type is FileType.VECTOR

    @property
    def parameter_fields(self) -> frozenset[str]:
        """Names of the parameters, i.e. the valid ``params.<field>`` placeholders."""
        return frozenset(self.parameters.model_fields) if self.parameters else frozenset()

    @property
    def takes_batch(self) -> bool:
        """Whether the steps take all of a batch's inputs at once (``inputs='batch'``)."""
        return self.inputs == "batch"

    @property
    def export(self) -> ExportStep:
        """The intent's export step."""
        last = self.steps[-1]
        assert isinstance(last, ExportStep)  # noqa: S101 - guaranteed by validation
        return last

    def parameter_schema(self) -> dict[str, Any] | None:
        """The JSON Schema of the parameters, for users and the CLI."""
        return self.parameters.model_json_schema() if self.parameters else None

    @model_validator(mode="after")
    def _executable(self) -> Self:
        problems = _structure_problems(self)
        for step in self.steps:
            problems.extend(f"step {step.name!r}: {p}" for p in _step_problems(self, step))
        if problems:
            raise ValueError(f"intent {self.name!r} is not executable: " + "; ".join(problems))
        return self


def _structure_problems(intent: Intent) -> list[str]:
    problems: list[str] = []
    names = [step.name for step in intent.steps]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        problems.append(f"step names must be unique (repeated: {', '.join(duplicates)})")
    exports = [i for i, step in enumerate(intent.steps) if isinstance(step, ExportStep)]
    if exports != [len(intent.steps) - 1]:
        problems.append("exactly one export step is required, and it must be the last step")
    if intent.is_vector:
        problems += fid_problems(intent.steps)
    if intent.takes_batch:
        problems += _batch_problems(intent)
    if intent.parameters is not None:
        if intent.parameters.model_config.get("extra") != "forbid":
            problems.append("the parameters model must set extra='forbid', so typos are reported")
        for field, info in intent.parameters.model_fields.items():
            if not info.description:
                problems.append(f"parameter {field!r} has no description")
    return problems


def _batch_problems(intent: Intent) -> list[str]:
    """A batch intent is a raster one whose first step reads every input and writes one file.

    ``{src}`` has no value until that step wrote ``{dst}``: there is no single input to name.
    """
    if intent.is_vector:
        return ["inputs='batch' is available to raster intents only"]
    first = intent.steps[0]
    if (
        not isinstance(first, GdalStep)
        or SRCS_ARGUMENT not in first.args
        or first.output_suffix is None
        or first.when is not None
        or first.unless is not None
    ):
        return [
            f"with inputs='batch' the first step must be an unconditional GdalStep passing "
            f"{SRCS_ARGUMENT} and writing {{dst}} (step {first.name!r} is not)"
        ]
    if any("{src}" in arg for arg in first.args):
        return [f"step {first.name!r}: a batch's first step reads {SRCS_ARGUMENT}, not {{src}}"]
    return []


def _step_problems(intent: Intent, step: StepDeclaration) -> list[str]:
    problems = _condition_problems(intent, step)
    try:
        kind = step_kinds().for_step(step)
    except StepKindError as error:
        return [*problems, str(error)]
    if not isinstance(step, kind.declaration):
        name = type(step).__name__
        return [*problems, f"{name} is not the declaration of kind {kind.name!r}"]
    return problems + kind.problems(step, intent)


def _condition_problems(intent: Intent, step: StepDeclaration) -> list[str]:
    problems: list[str] = []
    for keyword in ("when", "unless"):
        field = getattr(step, keyword)
        if field is None or field in INPUT_FACTS:
            continue
        if "." in field:  # parameter names have no dot: meant as a fact of the input
            known = ", ".join(sorted(INPUT_FACTS))
            problems.append(f"{keyword}={field!r} names no fact of the input (known: {known})")
        elif intent.parameters is None or field not in intent.parameters.model_fields:
            problems.append(f"{keyword}={field!r} names no parameter of the intent")
        elif intent.parameters.model_fields[field].is_required():
            problems.append(f"{keyword}={field!r} names a required parameter, so it is always set")
    return problems
