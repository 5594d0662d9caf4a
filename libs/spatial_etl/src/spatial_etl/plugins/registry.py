"""Registered intents, the plugins they came from, and the catalog the platform routes with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from spatial_etl.errors import (
    DuplicateIntentError,
    IntentConflictError,
    IntentDeclarationError,
    UnknownIntentError,
)
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.plugins.intent import Intent


class RegisteredIntent(BaseModel):
    """An intent together with the plugin that registered it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: Intent
    plugin: PluginInfo


class PluginFailure(BaseModel):
    """A plugin that is installed (or was asked for) but contributes nothing, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Entry-point name of the plugin.")
    distribution: str | None = None
    version: str | None = None
    stage: Literal["import", "register", "missing"] = Field(
        description="import: loading the module failed; register: its hook failed or declared "
        "an invalid intent; missing: allow-listed but not installed."
    )
    reason: str = Field(description="The error, as the plugin's author needs to read it.")


class IntentConflict(BaseModel):
    """An intent name claimed by several plugins; it is unusable until one is removed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: str
    plugins: tuple[PluginInfo, ...]

    @property
    def message(self) -> str:
        """Names every claimant and the way out."""
        claimants = " and ".join(str(plugin) for plugin in self.plugins)
        return (
            f"intent {self.intent!r} is registered by both {claimants}; "
            "uninstall one or list it in SPATIAL_ETL_BLOCK_PLUGINS"
        )


class IntentRegistry:
    """Collects one plugin's intents during its ``register_intents`` hook."""

    def __init__(self, plugin: PluginInfo) -> None:
        self.plugin = plugin
        self._intents: dict[str, Intent] = {}

    def register(self, intent: Intent) -> None:
        """Add an intent; a second intent with the same name is an error."""
        if not isinstance(intent, Intent):
            raise IntentDeclarationError(
                f"plugin {self.plugin} registers a {type(intent).__name__}, not an Intent"
            )
        if intent.name in self._intents:
            raise DuplicateIntentError(
                f"plugin {self.plugin} registers intent {intent.name!r} twice"
            )
        self._intents[intent.name] = intent

    @property
    def intents(self) -> Mapping[str, Intent]:
        """The intents registered so far, by name."""
        return dict(self._intents)


class IntentCatalog:
    """The loaded plugins and their intents: what routes a manifest to its plan."""

    def __init__(
        self,
        registries: Iterable[IntentRegistry] = (),
        failures: Iterable[PluginFailure] = (),
    ) -> None:
        self.plugins: list[PluginInfo] = []
        self.failures = list(failures)
        claims: dict[str, list[RegisteredIntent]] = {}
        for registry in registries:
            self.plugins.append(registry.plugin)
            for intent in registry.intents.values():
                claim = RegisteredIntent(intent=intent, plugin=registry.plugin)
                claims.setdefault(intent.name, []).append(claim)
        self.conflicts = [
            IntentConflict(intent=name, plugins=tuple(c.plugin for c in found))
            for name, found in sorted(claims.items())
            if len(found) > 1
        ]
        self._intents = {
            name: found[0] for name, found in sorted(claims.items()) if len(found) == 1
        }

    @property
    def intents(self) -> list[RegisteredIntent]:
        """Usable intents, sorted by name (conflicting names are left out)."""
        return list(self._intents.values())

    def names(self) -> list[str]:
        """Names of the usable intents."""
        return list(self._intents)

    def get(self, name: str) -> RegisteredIntent:
        """The intent called ``name``; raise if it is unknown or claimed twice."""
        for conflict in self.conflicts:
            if conflict.intent == name:
                raise IntentConflictError(conflict.message)
        found = self._intents.get(name)
        if found is None:
            raise UnknownIntentError(name, self.names())
        return found
