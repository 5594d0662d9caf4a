"""Step kinds: what an intent's steps can be, each kind one module.

``kind`` defines what a kind provides (:class:`StepKind`: registration checks, planning,
execution, display) and the contexts it works in; ``registry`` holds the kinds by name. The
core's kinds (``gdal``, ``sql``, ``sql_check``, ``rewrite``, ``export``) are registered
through the ``register_step_kinds`` hook by :mod:`spatial_etl.plugins.kinds`, as a plugin
registers its own.
"""

from spatial_etl.steps.kind import (
    IntentFacts,
    PlanContext,
    PlannedStep,
    StepContext,
    StepDeclaration,
    StepKind,
)
from spatial_etl.steps.registry import StepKindRegistry

__all__ = [
    "IntentFacts",
    "PlanContext",
    "PlannedStep",
    "StepContext",
    "StepDeclaration",
    "StepKind",
    "StepKindRegistry",
]
