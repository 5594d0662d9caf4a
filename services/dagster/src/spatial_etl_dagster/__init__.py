"""Dagster adapters over the spatial_etl core: resources, the manifest sensor, the shared job.

``spatial_etl_dagster.definitions:defs`` is the code location; ``spatial_etl_dagster.local``
the one-machine runner. Nothing here holds logic the core does not already own.

The resources are imported on first use, so that loading ``spatial_etl_dagster.local:app``
(the ``spatial-etl local`` command group) does not import Dagster before a command runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spatial_etl_dagster.resources import (
        GDALResource,
        IntakeResource,
        LedgerResource,
        MinIOResource,
        PostGISResource,
    )

__all__ = [
    "GDALResource",
    "IntakeResource",
    "LedgerResource",
    "MinIOResource",
    "PostGISResource",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module("spatial_etl_dagster.resources"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
