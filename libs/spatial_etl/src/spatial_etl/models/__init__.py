"""The platform's contracts: manifests, landing paths, problems, ledger documents.

Everything that crosses a boundary (a user's JSON, the ledger's documents, a plugin's identity)
is one of these Pydantic v2 models. What a plugin declares (intents and their steps) sits above
them, in :mod:`spatial_etl.plugins.intent` and :mod:`spatial_etl.steps`, because a step kind
brings behaviour with its declaration.
"""

from spatial_etl.models.kinds import FileType, GeometryKind, geometry_kind
from spatial_etl.models.landing import LANDING_BUCKET, LandingPath, parse_landing_path
from spatial_etl.models.manifest import Manifest, ManifestFile, ManifestMetadata
from spatial_etl.models.problems import Problem

__all__ = [
    "LANDING_BUCKET",
    "FileType",
    "GeometryKind",
    "LandingPath",
    "Manifest",
    "ManifestFile",
    "ManifestMetadata",
    "Problem",
    "geometry_kind",
    "parse_landing_path",
]
