"""The ``gdal`` step kind: run one GDAL command-line program with an argument list.

Every placeholder fills exactly one argument's text, never split and never given to a shell;
the one exception, ``{srcs}`` of batch intents, is an argument on its own that becomes one
argument per staged input.
A step that declares ``output_suffix`` writes ``{dst}``, which becomes ``{src}`` for the steps
after it. On vector intents the load is an ``ogr2ogr`` step passing ``-lco FID={fid}``; the
core relies on that column (:func:`fid_problems` checks it at registration).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from spatial_etl.errors import PlanError
from spatial_etl.models.placeholders import FID_PLACEHOLDER, SRCS_ARGUMENT, Usage, check_template
from spatial_etl.models.programs import GdalProgram
from spatial_etl.steps.kind import (
    IntentFacts,
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
)


class GdalStep(StepDeclaration):
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


class PlannedGdal(PlannedStep):
    """A GDAL command ready to run."""

    kind: Literal["gdal"] = "gdal"
    argv: tuple[str, ...]
    output: str | None = None


class GdalKind(StepKind[GdalStep, PlannedGdal]):
    """Checks, plans and runs :class:`GdalStep`."""

    name = "gdal"
    declaration = GdalStep
    planned = PlannedGdal

    def problems(self, step: GdalStep, intent: IntentFacts) -> list[str]:
        """Every argument's placeholders; ``{dst}`` only with ``output_suffix``, and used then."""
        allow_dst = step.output_suffix is not None
        problems: list[str] = []
        for arg in step.args:
            problems += check_template(
                arg,
                Usage.GDAL,
                vector=intent.is_vector,
                parameter_fields=intent.parameter_fields,
                allow_dst=allow_dst,
                batch=intent.takes_batch,
            )
        if allow_dst and not any("{dst}" in arg for arg in step.args):
            problems.append("declares output_suffix but no argument writes {dst}")
        return problems

    def plan(self, step: GdalStep, context: PlanContext) -> PlannedGdal:
        """Fill each argument; a step writing ``{dst}`` makes it ``{src}`` for the next ones."""
        output = None
        if step.output_suffix is not None:
            name = f"input{context.index}-{context.position:02d}-{step.name}{step.output_suffix}"
            output = str(context.workdir / name)
        extra = {"dst": output} if output is not None else None
        where = f"step {step.name!r}"
        argv: list[str] = []
        for arg in step.args:
            if arg == SRCS_ARGUMENT:
                if not context.sources:
                    raise PlanError(f"{where}: no value for {SRCS_ARGUMENT}")
                argv.extend(context.sources)
            else:
                argv.append(context.fill(arg, where, extra))
        if output is not None:
            context.text["src"] = output
        return PlannedGdal(
            step=step.name,
            description=step.description,
            argv=(step.program.value, *argv),
            output=output,
        )

    def execute(self, planned: PlannedGdal, context: StepContext) -> None:
        """Run the command; the runner raises with GDAL's message when it fails."""
        context.runner.run(planned.argv)

    def describe(self, step: GdalStep) -> str:
        """The command line, arguments with spaces quoted."""
        return " ".join([step.program.value, *(_quote(arg) for arg in step.args)])


FID_OPTION = f"FID={FID_PLACEHOLDER}"
"""The layer creation option a vector intent's load step passes, after ``-lco``."""


def sets_fid(args: Sequence[str]) -> bool:
    """Whether an ``ogr2ogr`` argument list passes ``-lco FID={fid}``."""
    return any(a == "-lco" and b == FID_OPTION for a, b in pairwise(args))


def fid_problems(steps: Sequence[StepDeclaration]) -> list[str]:
    """A vector intent loads with exactly one ``ogr2ogr`` step passing ``-lco FID={fid}``.

    The core counts, orders and strips features by that column, so a load under another FID
    name would silently break the count check and the export's row order.
    """
    loads = [s for s in steps if isinstance(s, GdalStep) and s.program is GdalProgram.OGR2OGR]
    fid_loads = [step.name for step in loads if sets_fid(step.args)]
    if len(fid_loads) == 1:
        return []
    if fid_loads:
        names = ", ".join(repr(name) for name in fid_loads)
        return [f"steps {names} all pass -lco {FID_OPTION}; exactly one ogr2ogr step loads"]
    why = "the core counts, orders and strips features by that column"
    if loads:
        return [
            f"step {step.name!r}: the load must pass -lco {FID_OPTION} ({why})" for step in loads
        ]
    return [
        f"a vector intent loads its input with one ogr2ogr step passing -lco {FID_OPTION} ({why})"
    ]


def _quote(arg: str) -> str:
    return f"'{arg}'" if (" " in arg or not arg) else arg
