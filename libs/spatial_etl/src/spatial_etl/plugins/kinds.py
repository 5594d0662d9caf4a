"""The process's step kinds, and the core's own, registered through the hook plugins implement.

There is one registry per process. The first call of :func:`step_kinds` registers the core's
kinds (``gdal``, ``sql``, ``sql_check``, ``rewrite``, ``export``: this module is their
plugin); a plugin's kinds are registered when the loader runs that plugin's hooks, before its
``register_intents``, so a plugin builds the intents that use its kinds inside that hook.
"""

from __future__ import annotations

import sys

import pluggy

from spatial_etl.plugins import hookspecs
from spatial_etl.plugins.hookspecs import hookimpl
from spatial_etl.steps.export import ExportKind
from spatial_etl.steps.gdal import GdalKind
from spatial_etl.steps.registry import StepKindRegistry
from spatial_etl.steps.rewrite import RewriteKind
from spatial_etl.steps.sql import SqlKind
from spatial_etl.steps.sql_check import SqlCheckKind


@hookimpl
def register_step_kinds(kinds: StepKindRegistry) -> None:
    """Register gdal, sql, sql_check, rewrite and export."""
    for kind in (GdalKind(), SqlKind(), SqlCheckKind(), RewriteKind(), ExportKind()):
        kinds.register(kind)


_REGISTRY: StepKindRegistry | None = None


def step_kinds() -> StepKindRegistry:
    """The process's step kinds; the first call registers the core's own through the hook."""
    global _REGISTRY  # noqa: PLW0603 - one registry per process, filled once
    if _REGISTRY is None:
        registry = StepKindRegistry()
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        manager.register(sys.modules[__name__], name="spatial_etl.builtin_kinds")
        manager.hook.register_step_kinds(kinds=registry)
        _REGISTRY = registry
    return _REGISTRY
