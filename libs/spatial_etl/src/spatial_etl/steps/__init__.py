"""Step kinds: what an intent's steps can be, each kind one module.

``kind`` defines what a kind provides (:class:`StepKind`: registration checks, planning,
execution, display) and the contexts it works in; ``registry`` holds the kinds by name;
``builtin`` registers the core's kinds (``gdal``, ``sql``, ``sql_check``, ``export``) through
the ``register_step_kinds`` hook, as a plugin registers its own.
"""

import spatial_etl.models  # noqa: F401 - the contracts first: they import the kinds' modules
from spatial_etl.steps.kind import (
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
)
from spatial_etl.steps.registry import StepKindRegistry, step_kinds

__all__ = [
    "PlanContext",
    "PlannedStep",
    "StepContext",
    "StepDeclaration",
    "StepKind",
    "StepKindRegistry",
    "step_kinds",
]
