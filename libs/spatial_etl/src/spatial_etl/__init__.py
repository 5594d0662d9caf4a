"""spatial_etl: the core of the spatial ETL platform, and the API plugins are written against.

Plain Python with no Dagster import: the contracts (``models``), the step kinds (``steps``),
the plugin host (``plugins``), the run's stages (``run``), the services it keeps state in
(``backends``), the lake's writers (``export``), the screening of hostile inputs
(``screening``), the GDAL runner (``spatial_utils``) and the ``spatial-etl`` CLI (``cli``).

A plugin imports only from here (the names in ``__all__``): ``hookimpl`` to implement the
hooks, ``Intent``/``Accepts`` and the step declarations to declare an intent, and, to add a
step kind, ``StepKind`` with its contexts. The names load when first used, so importing the
package costs almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from spatial_etl.errors import SpatialEtlError
from spatial_etl.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from spatial_etl.models.crs import crs_problem
    from spatial_etl.models.kinds import FileType, GeometryKind
    from spatial_etl.models.programs import GdalProgram
    from spatial_etl.plugins.intent import Accepts, Intent
    from spatial_etl.plugins.registry import IntentRegistry
    from spatial_etl.steps.export import ExportFormat, ExportStep
    from spatial_etl.steps.gdal import GdalStep
    from spatial_etl.steps.kind import (
        IntentFacts,
        PlanContext,
        PlannedStep,
        StepContext,
        StepDeclaration,
        StepKind,
    )
    from spatial_etl.steps.registry import StepKindRegistry
    from spatial_etl.steps.rewrite import RewriteStep
    from spatial_etl.steps.sql import SqlStep
    from spatial_etl.steps.sql_check import SqlCheckStep

_PUBLIC = {
    "crs_problem": "spatial_etl.models.crs",
    "FileType": "spatial_etl.models.kinds",
    "GeometryKind": "spatial_etl.models.kinds",
    "Accepts": "spatial_etl.plugins.intent",
    "Intent": "spatial_etl.plugins.intent",
    "IntentRegistry": "spatial_etl.plugins.registry",
    "ExportFormat": "spatial_etl.steps.export",
    "ExportStep": "spatial_etl.steps.export",
    "GdalProgram": "spatial_etl.models.programs",
    "GdalStep": "spatial_etl.steps.gdal",
    "RewriteStep": "spatial_etl.steps.rewrite",
    "SqlStep": "spatial_etl.steps.sql",
    "SqlCheckStep": "spatial_etl.steps.sql_check",
    "IntentFacts": "spatial_etl.steps.kind",
    "PlanContext": "spatial_etl.steps.kind",
    "PlannedStep": "spatial_etl.steps.kind",
    "StepContext": "spatial_etl.steps.kind",
    "StepDeclaration": "spatial_etl.steps.kind",
    "StepKind": "spatial_etl.steps.kind",
    "StepKindRegistry": "spatial_etl.steps.registry",
}

try:
    __version__ = version("spatial-etl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'spatial_etl' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Accepts",
    "ExportFormat",
    "ExportStep",
    "FileType",
    "GdalProgram",
    "GdalStep",
    "GeometryKind",
    "Intent",
    "IntentFacts",
    "IntentRegistry",
    "PlanContext",
    "PlannedStep",
    "RewriteStep",
    "SpatialEtlError",
    "SqlCheckStep",
    "SqlStep",
    "StepContext",
    "StepDeclaration",
    "StepKind",
    "StepKindRegistry",
    "__version__",
    "crs_problem",
    "hookimpl",
]
