"""The core's own step kinds, registered through the same hook a plugin implements."""

from __future__ import annotations

from typing import TYPE_CHECKING

from spatial_etl.plugins.hookspecs import hookimpl
from spatial_etl.steps.export import ExportKind
from spatial_etl.steps.gdal import GdalKind
from spatial_etl.steps.sql import SqlKind
from spatial_etl.steps.sql_check import SqlCheckKind

if TYPE_CHECKING:
    from spatial_etl.steps.registry import StepKindRegistry


@hookimpl
def register_step_kinds(kinds: StepKindRegistry) -> None:
    """Register gdal, sql, sql_check and export."""
    for kind in (GdalKind(), SqlKind(), SqlCheckKind(), ExportKind()):
        kinds.register(kind)
