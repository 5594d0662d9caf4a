"""The plugin host: find plugins through entry points, load each in isolation, build a catalog.

Loading is fault tolerant: a plugin that fails to import, or whose hook raises or declares an
invalid intent, is reported by name with its reason and the others still load. Nothing happens
at import time; :func:`load_plugins` reads the environment when it is called.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Literal

import pluggy

from spatial_etl.errors import PluginLoadError
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.plugins import hookspecs
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.plugins.registry import IntentCatalog, IntentRegistry, PluginFailure
from spatial_etl.settings import PluginSettings

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
"""Entry-point group of plugin distributions (``[project.entry-points.spatial_etl]``)."""

logger = logging.getLogger(__name__)


def load_plugins(
    settings: PluginSettings | None = None,
    *,
    extra: Iterable[tuple[PluginInfo, object]] = (),
    strict: bool = False,
) -> IntentCatalog:
    """Load the installed plugins the settings allow, plus ``extra`` in-process ones.

    ``extra`` pairs a :class:`PluginInfo` with a plugin object (module or instance) that is not
    installed, as tests and the testing helpers need. With ``strict=True`` any failure or
    conflict raises :class:`PluginLoadError` instead of being reported in the catalog.
    """
    settings = settings if settings is not None else PluginSettings()
    step_kinds()  # the core's own kinds first, through the same hook plugins implement
    registries: list[IntentRegistry] = []
    failures: list[PluginFailure] = []
    found: set[str] = set()
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        info = _info(entry_point)
        found.update(filter(None, (info.name, info.distribution)))
        if not settings.allows(info.name, info.distribution):
            logger.info("plugin %s not loaded: excluded by configuration", info)
            continue
        try:
            plugin = entry_point.load()
        except Exception as error:  # noqa: BLE001 - any import failure is the plugin's, reported
            failures.append(_failure(info, "import", error))
            continue
        _collect(info, plugin, registries, failures)
    for info, plugin in extra:
        _collect(info, plugin, registries, failures)
    for name in sorted((settings.plugins or frozenset()) - found):
        reason = "listed in SPATIAL_ETL_PLUGINS but no installed plugin has this name"
        failures.append(PluginFailure(name=name, stage="missing", reason=reason))
    catalog = IntentCatalog(registries, failures)
    if strict and (catalog.failures or catalog.conflicts):
        lines = [f"{f.name} ({f.stage}): {f.reason}" for f in catalog.failures]
        lines += [c.message for c in catalog.conflicts]
        raise PluginLoadError("plugins failed to load:\n" + "\n".join(lines))
    return catalog


def register_plugin(info: PluginInfo, plugin: object) -> IntentRegistry:
    """Run one plugin's hooks into a fresh registry; raise on any failure.

    Each plugin gets its own plugin manager, so a failure or a duplicate name is attributed to
    the plugin that caused it. Its step kinds are registered before its intents.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(plugin, name=info.name)
    manager.hook.register_step_kinds(kinds=step_kinds())
    registry = IntentRegistry(info)
    manager.hook.register_intents(registry=registry)
    return registry


def _collect(
    info: PluginInfo,
    plugin: object,
    registries: list[IntentRegistry],
    failures: list[PluginFailure],
) -> None:
    try:
        registries.append(register_plugin(info, plugin))
    except Exception as error:  # noqa: BLE001 - a plugin's own bug must not stop the others
        failures.append(_failure(info, "register", error))


def _info(entry_point: EntryPoint) -> PluginInfo:
    dist = entry_point.dist
    return PluginInfo(
        name=entry_point.name,
        distribution=dist.name if dist is not None else None,
        version=dist.version if dist is not None else None,
        module=entry_point.value,
    )


def _failure(
    info: PluginInfo, stage: Literal["import", "register"], error: BaseException
) -> PluginFailure:
    reason = f"{type(error).__name__}: {error}"
    logger.warning("plugin %s failed at %s: %s", info, stage, reason)
    return PluginFailure(
        name=info.name,
        distribution=info.distribution,
        version=info.version,
        stage=stage,
        reason=reason,
    )
