"""The built-in step declarations an intent may use, where plugins have always imported them.

Each kind lives in its own module of :mod:`spatial_etl.steps` (declaration, checks, planning,
execution); this module only gathers the declarations. An intent may also use any kind a
plugin registers through the ``register_step_kinds`` hook.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import SerializeAsAny

from spatial_etl.steps.export import ExportFormat, ExportStep
from spatial_etl.steps.gdal import GdalProgram, GdalStep
from spatial_etl.steps.kind import STEP_NAME_PATTERN, StepDeclaration, StepName
from spatial_etl.steps.sql import SqlStep
from spatial_etl.steps.sql_check import SqlCheckStep

Step = Annotated[StepDeclaration, SerializeAsAny()]
"""Any step an intent may declare: a registered kind's declaration; ``kind`` tells which."""

__all__ = [
    "STEP_NAME_PATTERN",
    "ExportFormat",
    "ExportStep",
    "GdalProgram",
    "GdalStep",
    "SqlCheckStep",
    "SqlStep",
    "Step",
    "StepDeclaration",
    "StepName",
]
