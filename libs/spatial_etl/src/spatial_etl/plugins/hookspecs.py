"""The hooks a spatial ETL plugin can implement.

A plugin is a module (or object) named by an entry point in the ``spatial_etl`` group; it
implements hooks with the :data:`spatial_etl.hookimpl` decorator::

    from spatial_etl import hookimpl

    @hookimpl
    def register_intents(registry):
        registry.register(MY_INTENT)

Every hook is documented here, and a test fails when one is not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from spatial_etl.plugins.registry import IntentRegistry
    from spatial_etl.steps.registry import StepKindRegistry

PROJECT_NAME = "spatial_etl"
"""The pluggy project name, which is also the entry-point group plugins register under."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_intents(registry: IntentRegistry) -> None:
    """Register the plugin's intents.

    Call ``registry.register(intent)`` once per :class:`spatial_etl.models.Intent`. Intents are
    validated when they are built, so a declaration error surfaces here, naming the plugin,
    rather than in a user's run. Registering a name twice is an error; two plugins registering
    the same name is a conflict that disables the name until one plugin is removed or blocked.

    Args:
        registry: Collects this plugin's intents; it knows which plugin it belongs to.
    """


@hookspec
def register_step_kinds(kinds: StepKindRegistry) -> None:
    """Register step kinds an intent's steps may use, besides the core's own.

    Call ``kinds.register(kind)`` with a :class:`spatial_etl.steps.StepKind` instance: its
    ``declaration`` model (a :class:`spatial_etl.steps.StepDeclaration` whose ``kind`` literal
    equals the kind's ``name``) is what intents declare, and the kind checks, plans, runs and
    describes those steps. The core registers ``gdal``, ``sql``, ``sql_check`` and ``export``
    through this same hook (:mod:`spatial_etl.plugins.kinds`), before any plugin. The loader
    runs this hook before ``register_intents``, so a plugin builds intents that use its own
    kinds inside ``register_intents``. Registering a name another kind holds is an error.

    Args:
        kinds: The process's step kind registry.
    """
