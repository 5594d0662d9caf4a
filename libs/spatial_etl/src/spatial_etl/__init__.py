"""spatial_etl: the core of the spatial ETL platform.

Plain Python with no Dagster import: the contracts (``models``), the plugin host
(``plugins``), the run's stages (``run``), the services it keeps state in (``backends``), the
lake's writers (``export``), the screening of hostile inputs (``screening``), the GDAL runner
(``spatial_utils``) and the ``spatial-etl`` CLI (``cli``). Plugins import from here.
"""

from importlib.metadata import PackageNotFoundError, version

from spatial_etl.errors import SpatialEtlError
from spatial_etl.plugins.hookspecs import hookimpl

try:
    __version__ = version("spatial-etl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["SpatialEtlError", "__version__", "hookimpl"]
