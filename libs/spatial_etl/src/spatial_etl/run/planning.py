"""Resolve an intent's declared steps into the concrete plan for one input of one run.

Resolution is pure: it fills placeholders with the run's values and the manifest's
parameters, decides which conditional steps run, and allocates work files. It touches no
file, database or network, so a plan can be shown, tested and recorded before anything runs.
Each step is planned by its kind (:mod:`spatial_etl.steps`); the file type's pipeline
(:mod:`spatial_etl.run.pipelines`) adds its placeholders and adjusts the planned steps.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError

from spatial_etl.errors import PlanError
from spatial_etl.models.manifest import Manifest
from spatial_etl.models.placeholders import INPUT_FACTS, PARAMS_PREFIX
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.pipelines import pipeline_for
from spatial_etl.run.plans import InputBinding, Plan, RunValues
from spatial_etl.steps.export import PlannedExport
from spatial_etl.steps.gdal import PlannedGdal
from spatial_etl.steps.kind import PlanContext, PlannedStep, json_value
from spatial_etl.steps.sql import PlannedSql

__all__ = [
    "InputBinding",
    "Plan",
    "PlannedExport",
    "PlannedGdal",
    "PlannedSql",
    "PlannedStep",
    "RunValues",
    "resolve_batch_plan",
    "resolve_plan",
]


def resolve_plan(
    registered: RegisteredIntent,
    manifest: Manifest,
    binding: InputBinding,
    run: RunValues,
    *,
    parameters: BaseModel | None = None,
) -> Plan:
    """Fill the intent's steps for ``binding``; raise :class:`PlanError` if a value is missing.

    ``parameters`` is the run's instance of the intent's parameters model, validated once per
    run; without it the manifest's parameters are validated here.
    """
    if registered.intent.takes_batch:
        raise PlanError(
            f"intent {registered.intent.name!r} takes the whole batch; use resolve_batch_plan"
        )
    return _resolve(registered, manifest, (binding,), run, parameters, batch=False)


def resolve_batch_plan(
    registered: RegisteredIntent,
    manifest: Manifest,
    bindings: Sequence[InputBinding],
    run: RunValues,
    *,
    parameters: BaseModel | None = None,
) -> Plan:
    """One plan over every input of the batch, for an intent declared ``inputs='batch'``.

    ``{srcs}`` expands to the bindings' GDAL paths in order; ``{crs}`` is the first input's
    (the executor has checked the inputs agree); ``{src}`` exists only once a step wrote
    ``{dst}``.
    """
    if not registered.intent.takes_batch:
        raise PlanError(f"intent {registered.intent.name!r} plans each file on its own")
    if not bindings:
        raise PlanError("a batch plan needs at least one input")
    return _resolve(registered, manifest, tuple(bindings), run, parameters, batch=True)


def _resolve(
    registered: RegisteredIntent,
    manifest: Manifest,
    bindings: tuple[InputBinding, ...],
    run: RunValues,
    parameters: BaseModel | None,
    *,
    batch: bool,
) -> Plan:
    intent = registered.intent
    pipeline = pipeline_for(intent)
    params = _parameters(registered, manifest, parameters)
    binding = bindings[0]
    text: dict[str, str] = {
        "run_id": run.run_id,
        "batch_id": manifest.batch_id,
        "intent": intent.name,
        "crs": binding.file.crs,
    }
    if not batch:
        text["src"] = binding.gdal_path
    text |= pipeline.placeholders(run, binding)
    for field, value in params.items():
        if value is not None:
            text[PARAMS_PREFIX + field] = _as_text(value)
    context = PlanContext(
        text=text,
        parameters=params,
        workdir=run.workdir,
        index=binding.index,
        sources=tuple(item.gdal_path for item in bindings) if batch else (),
    )
    kinds = step_kinds()
    steps: list[PlannedStep] = []
    skipped: list[str] = []
    for position, step in enumerate(intent.steps):
        if not _runs(step.when, step.unless, params, binding):
            skipped.append(step.name)
            continue
        context.position = position
        planned = kinds.for_step(step).plan(step, context)
        for item in bindings:
            planned = pipeline.adjust(planned, item)
        steps.append(planned)
    return Plan(
        intent=intent.name,
        plugin=registered.plugin,
        input=binding,
        inputs=bindings if batch else (),
        parameters={k: json_value(v) for k, v in params.items()},
        steps=tuple(steps),
        skipped=tuple(skipped),
    )


def _parameters(
    registered: RegisteredIntent, manifest: Manifest, parsed: BaseModel | None
) -> dict[str, Any]:
    model = registered.intent.parameters
    if model is None:
        return {}
    if not isinstance(parsed, model):
        try:
            parsed = model.model_validate(manifest.metadata.parameters)
        except ValidationError as error:
            raise PlanError(f"invalid parameters for {registered.intent.name!r}: {error}") from None
    return {field: getattr(parsed, field) for field in type(parsed).model_fields}


def _runs(
    when: str | None, unless: str | None, params: dict[str, Any], binding: InputBinding
) -> bool:
    """Whether a conditional step runs; a fact of the input not yet known lets it run."""

    def is_set(name: str, unknown: bool) -> bool:
        if name in INPUT_FACTS:
            fact = binding.fact(name)
            return unknown if fact is None else fact
        value = params.get(name)
        return value is not None and value is not False

    runs_when = when is None or is_set(when, unknown=True)
    return runs_when and (unless is None or not is_set(unless, unknown=False))


def _as_text(value: Any) -> str:
    """A parameter as one command-line argument: enums by value, booleans as GDAL's YES/NO."""
    if isinstance(value, bool):
        return "YES" if value else "NO"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)
