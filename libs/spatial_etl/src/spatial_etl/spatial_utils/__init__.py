"""Spatial utilities: the GDAL command runner and typed readers of what GDAL prints."""

from spatial_etl.spatial_utils.rasterinfo import BandInfo, RasterInfo, read_raster_info
from spatial_etl.spatial_utils.runner import (
    CommandResult,
    GdalRunner,
    SubprocessGdalRunner,
)
from spatial_etl.spatial_utils.vectorinfo import FieldInfo, LayerInfo, VectorInfo, read_vector_info

__all__ = [
    "BandInfo",
    "CommandResult",
    "FieldInfo",
    "GdalRunner",
    "LayerInfo",
    "RasterInfo",
    "SubprocessGdalRunner",
    "VectorInfo",
    "read_raster_info",
    "read_vector_info",
]
