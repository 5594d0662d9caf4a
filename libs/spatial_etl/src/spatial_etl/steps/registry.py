"""The step kind registry: kind name -> the :class:`StepKind` that checks, plans and runs it.

The process's registry (:func:`spatial_etl.plugins.kinds.step_kinds`) is filled through the
``register_step_kinds`` hook, the core's own kinds first, as a plugin registers its own.
"""

from __future__ import annotations

from typing import Any

from spatial_etl.errors import StepKindError
from spatial_etl.steps.kind import PlannedStep, StepDeclaration, StepKind

AnyKind = StepKind[Any, Any]


class StepKindRegistry:
    """The registered step kinds, by name."""

    def __init__(self) -> None:
        self._kinds: dict[str, AnyKind] = {}

    def register(self, kind: AnyKind) -> None:
        """Add a kind; the same kind again is ignored, another kind under a taken name refused."""
        if not isinstance(kind, StepKind):
            raise StepKindError(f"register() takes a StepKind, not {type(kind).__name__}")
        declared = kind.declaration.model_fields["kind"].default
        if declared != kind.name:
            raise StepKindError(
                f"step kind {kind.name!r}: its declaration {kind.declaration.__name__} has "
                f"kind={declared!r}; the two must be equal"
            )
        taken = self._kinds.get(kind.name)
        if taken is not None:
            if type(taken) is type(kind):
                return
            raise StepKindError(
                f"step kind {kind.name!r} is already registered by {type(taken).__qualname__}"
            )
        self._kinds[kind.name] = kind

    def names(self) -> list[str]:
        """Names of the registered kinds, in registration order."""
        return list(self._kinds)

    def get(self, name: str) -> AnyKind:
        """The kind called ``name``; :class:`StepKindError` listing the known ones otherwise."""
        kind = self._kinds.get(name)
        if kind is None:
            known = ", ".join(self._kinds)
            raise StepKindError(f"step kind {name!r} is not registered (known: {known})")
        return kind

    def for_step(self, step: StepDeclaration | PlannedStep) -> AnyKind:
        """The kind of a declared or planned step."""
        return self.get(step.kind)

    def declaration(self, data: Any) -> Any:
        """Read a declared step from JSON-like data, choosing its model by ``kind``."""
        if isinstance(data, dict) and isinstance(data.get("kind"), str):
            return self.get(data["kind"]).declaration.model_validate(data)
        return data

    def planned(self, data: Any) -> Any:
        """Read a planned step from JSON-like data, choosing its model by ``kind``."""
        if isinstance(data, dict) and isinstance(data.get("kind"), str):
            return self.get(data["kind"]).planned.model_validate(data)
        return data
