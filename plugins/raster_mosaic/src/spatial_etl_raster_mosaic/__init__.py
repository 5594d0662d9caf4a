"""The ``ingest_raster_mosaic`` intent: every raster tile of a batch to one COG.

A pure declaration, and the worked example of a batch intent (``inputs="batch"``): the core
stages and screens every tile, checks they agree on CRS, data type, band count and nodata, and
plans the steps once over all of them. ``{srcs}`` expands to the staged tiles, so the mosaic
can only ever read files of the batch. ``gdalbuildvrt`` writes a VRT of a few hundred bytes per
tile; pixels are read, (optionally) warped and compressed once, by the core's COG export.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    GdalProgram,
    GdalStep,
    Intent,
    IntentRegistry,
    crs_problem,
    hookimpl,
)

__all__ = ["INTENT", "MosaicParameters", "Resampling", "register_intents"]


class Resampling(StrEnum):
    """GDAL resampling methods offered for the warp and the overviews."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    CUBIC = "cubic"
    CUBICSPLINE = "cubicspline"
    LANCZOS = "lanczos"
    AVERAGE = "average"
    MODE = "mode"


class MosaicParameters(BaseModel):
    """Parameters a manifest may give in ``metadata.parameters``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_crs: str | None = Field(
        default=None,
        description="Reproject the mosaic to this CRS (authority code, WKT or PROJJSON); "
        "unset keeps the tiles' CRS.",
    )
    resampling: Resampling = Field(
        default=Resampling.NEAREST,
        description="Resampling of the reprojection; nearest keeps class values intact.",
    )
    overview_resampling: Resampling = Field(
        default=Resampling.NEAREST,
        description="Resampling of the COG overviews; average suits continuous imagery.",
    )

    @field_validator("target_crs")
    @classmethod
    def _known_crs(cls, value: str | None) -> str | None:
        if value is not None and (problem := crs_problem(value)):
            raise ValueError(problem)
        return value


INTENT = Intent(
    name="ingest_raster_mosaic",
    summary="The raster tiles of a batch -> one Cloud-Optimized GeoTIFF mosaic",
    description=(
        "All raster files of the batch are one product. The platform first checks the tiles "
        "agree on CRS, data type, band count and nodata (a mismatch fails naming the files), "
        "then mosaics the staged tiles into a VRT (where tiles overlap, the later file in the "
        "manifest wins), optionally reprojects it, and writes one COG: 512x512 tiles, DEFLATE "
        "with a predictor, internal overviews. Data type, band count and nodata carry through. "
        "The dataset is metadata.dataset, else the batch id."
    ),
    accepts=Accepts(
        file_type=FileType.RASTER,
        drivers=frozenset({"GTiff", "COG", "JP2OpenJPEG"}),
    ),
    parameters=MosaicParameters,
    inputs="batch",
    steps=(
        GdalStep(
            name="mosaic",
            description="Mosaic the batch's staged tiles into one virtual raster (VRT).",
            program=GdalProgram.GDALBUILDVRT,
            args=("-a_srs", "{crs}", "{dst}", "{srcs}"),
            output_suffix=".vrt",
        ),
        GdalStep(
            name="reproject",
            description="Reproject the mosaic to the requested target CRS.",
            when="target_crs",
            program=GdalProgram.GDALWARP,
            args=(
                "-of",
                "VRT",
                "-t_srs",
                "{params.target_crs}",
                "-r",
                "{params.resampling}",
                "{src}",
                "{dst}",
            ),
            output_suffix=".vrt",
        ),
        ExportStep(
            name="export",
            description="Write the mosaic as a Cloud-Optimized GeoTIFF and validate it.",
            format=ExportFormat.COG,
            creation_options={
                "COMPRESS": "DEFLATE",
                "PREDICTOR": "YES",
                "BLOCKSIZE": "512",
                "OVERVIEWS": "IGNORE_EXISTING",
                "OVERVIEW_RESAMPLING": "{params.overview_resampling}",
                "BIGTIFF": "IF_SAFER",
                "NUM_THREADS": "ALL_CPUS",
            },
        ),
    ),
)
"""The intent, validated when this module is imported by the plugin host."""


@hookimpl
def register_intents(registry: IntentRegistry) -> None:
    """Register ``ingest_raster_mosaic``."""
    registry.register(INTENT)
