"""The ``ingest_satellite_raster`` intent: GeoTIFF / JPEG2000 to Cloud-Optimized GeoTIFF.

A pure declaration. The first step assigns the manifest's CRS through a VRT (a few hundred
bytes of XML, no pixel copied), only to a file that has no CRS of its own
(``when="input.crs_missing"``, a fact the core establishes when it inspects the input: a file
whose CRS the core found equal to the manifest's is read directly). The optional warp is
also a VRT, so pixels are read, resampled and compressed once, by the core's COG export
(``gdal_translate -of COG``). CRS, nodata, data type and band count carry through unchanged
unless ``target_crs`` asks for a reprojection.
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

__all__ = ["INTENT", "RasterParameters", "Resampling", "register_intents"]


class Resampling(StrEnum):
    """GDAL resampling methods offered for the warp and the overviews."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"
    CUBIC = "cubic"
    CUBICSPLINE = "cubicspline"
    LANCZOS = "lanczos"
    AVERAGE = "average"
    MODE = "mode"


class RasterParameters(BaseModel):
    """Parameters a manifest may give in ``metadata.parameters``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_crs: str | None = Field(
        default=None,
        description="Reproject to this CRS (authority code, WKT or PROJJSON); unset keeps the CRS.",
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
    name="ingest_satellite_raster",
    summary="GeoTIFF / JPEG2000 -> Cloud-Optimized GeoTIFF (tiled, DEFLATE, overviews)",
    description=(
        "Converts each raster to a COG: 512x512 tiles, DEFLATE with a predictor, internal "
        "overviews. CRS, nodata, data type and band count are preserved; a file without a CRS "
        "gets the manifest's. With target_crs the raster is reprojected on the way."
    ),
    accepts=Accepts(
        file_type=FileType.RASTER,
        drivers=frozenset({"GTiff", "COG", "JP2OpenJPEG", "JP2KAK", "JP2ECW"}),
    ),
    parameters=RasterParameters,
    steps=(
        GdalStep(
            name="assign_crs",
            description="Give a raster without a CRS the manifest's.",
            when="input.crs_missing",
            program=GdalProgram.GDAL_TRANSLATE,
            args=("-of", "VRT", "-a_srs", "{crs}", "{src}", "{dst}"),
            output_suffix=".vrt",
        ),
        GdalStep(
            name="reproject",
            description="Reproject to the requested target CRS.",
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
            description="Write a Cloud-Optimized GeoTIFF and validate it.",
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
    """Register ``ingest_satellite_raster``."""
    registry.register(INTENT)
