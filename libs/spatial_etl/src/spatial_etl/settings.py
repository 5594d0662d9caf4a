"""Configuration read from the environment and ``.env``, at call time, never at import time.

Every variable has the ``SPATIAL_ETL_`` prefix and is documented in ``.env.example``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_CONFIG = SettingsConfigDict(env_prefix="SPATIAL_ETL_", env_file=".env", extra="ignore")


def _names(value: object) -> object:
    """Split a comma-separated list of plugin names; blanks are dropped."""
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(",") if part.strip())
    return value


class PluginSettings(BaseSettings):
    """Which installed plugins the host loads."""

    model_config = _CONFIG

    plugins: Annotated[frozenset[str] | None, NoDecode] = Field(
        default=None,
        description="SPATIAL_ETL_PLUGINS: comma-separated allow-list of plugin names "
        "(entry-point or distribution names). Unset loads every installed plugin; "
        "an empty value loads none.",
    )
    block_plugins: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="SPATIAL_ETL_BLOCK_PLUGINS: comma-separated plugin names never to load.",
    )

    _split = field_validator("plugins", "block_plugins", mode="before")(_names)

    def allows(self, *names: str | None) -> bool:
        """Whether a plugin known by any of ``names`` may load."""
        known = {name for name in names if name}
        if known & self.block_plugins:
            return False
        return self.plugins is None or bool(known & self.plugins)


class GdalSettings(BaseSettings):
    """Where the GDAL programs are and how long they may run."""

    model_config = _CONFIG

    gdal_bin_dir: Path | None = Field(
        default=None,
        description="SPATIAL_ETL_GDAL_BIN_DIR: directory of the GDAL programs; unset uses PATH.",
    )
    gdal_timeout_s: float = Field(
        default=3600.0,
        gt=0,
        description="SPATIAL_ETL_GDAL_TIMEOUT_S: seconds a GDAL command may run before a kill.",
    )
