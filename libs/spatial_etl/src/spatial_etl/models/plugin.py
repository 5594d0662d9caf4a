"""Who declared an intent: the plugin's identity, recorded in plans and in the ledger."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class PluginInfo(BaseModel):
    """Where an intent came from; the ledger records it for every asset."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Entry-point name of the plugin.")
    distribution: str | None = Field(default=None, description="Distribution that installed it.")
    version: str | None = Field(default=None, description="Version of that distribution.")
    module: str = Field(description="What the entry point names (module or object path).")

    def __str__(self) -> str:
        origin = f"{self.distribution} {self.version}" if self.distribution else self.module
        return f"{self.name!r} ({origin})"
