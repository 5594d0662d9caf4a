"""The platform's contracts: manifests, intents and their steps, plans, validation problems.

Everything that crosses a boundary (a user's JSON, a plugin's declaration, a run's plan) is one
of these Pydantic v2 models.
"""

from spatial_etl.models.intent import Accepts, Intent
from spatial_etl.models.kinds import FileType, GeometryKind, geometry_kind
from spatial_etl.models.landing import LANDING_BUCKET, LandingPath, parse_landing_path
from spatial_etl.models.manifest import Manifest, ManifestFile, ManifestMetadata
from spatial_etl.models.problems import Problem
from spatial_etl.models.steps import (
    ExportFormat,
    ExportStep,
    GdalProgram,
    GdalStep,
    SqlCheckStep,
    SqlStep,
    Step,
)

__all__ = [
    "LANDING_BUCKET",
    "Accepts",
    "ExportFormat",
    "ExportStep",
    "FileType",
    "GdalProgram",
    "GdalStep",
    "GeometryKind",
    "Intent",
    "LandingPath",
    "Manifest",
    "ManifestFile",
    "ManifestMetadata",
    "Problem",
    "SqlCheckStep",
    "SqlStep",
    "Step",
    "geometry_kind",
    "parse_landing_path",
]
