"""spatial_etl: the core of the spatial ETL platform.

Plain Python with no Dagster import: manifest and intent contracts (:mod:`spatial_etl.models`),
the plugin host (:mod:`spatial_etl.plugins`), plan resolution (:mod:`spatial_etl.planning`), the
GDAL runner (:mod:`spatial_etl.spatial_utils`) and the ``spatial-etl`` CLI. Plugins import
:data:`hookimpl` from here.
"""

from importlib.metadata import PackageNotFoundError, version

from spatial_etl.errors import SpatialEtlError
from spatial_etl.hookspecs import hookimpl

try:
    __version__ = version("spatial-etl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["SpatialEtlError", "__version__", "hookimpl"]
