"""The ``ingest_vector_boundary`` intent: polygon boundaries to GeoParquet in EPSG:4326.

A pure declaration: the steps below are executed by the core (ogr2ogr into the run's PostGIS
schema, the SQL, the GeoParquet export). Nothing here performs I/O.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    GdalProgram,
    GdalStep,
    GeometryKind,
    Intent,
    IntentRegistry,
    SqlCheckStep,
    SqlStep,
    hookimpl,
)

__all__ = ["INTENT", "BoundaryParameters", "register_intents"]


class BoundaryParameters(BaseModel):
    """Parameters a manifest may give in ``metadata.parameters``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str | None = Field(
        default=None,
        min_length=1,
        description="Layer to ingest when a source (e.g. a GeoPackage) holds several.",
    )


INTENT = Intent(
    name="ingest_vector_boundary",
    summary="Polygon boundaries -> valid MultiPolygon, EPSG:4326 -> GeoParquet",
    description=(
        "Loads one polygon layer per file (Shapefile, plain or zipped; GeoPackage; GeoJSON; "
        "FlatGeobuf) into the run's PostGIS schema, rejects layers holding points or lines, "
        "linearises curves, makes invalid polygons valid, drops Z/M, forces MultiPolygon, "
        "reprojects to EPSG:4326 and exports GeoParquet. Attributes are kept as loaded."
    ),
    accepts=Accepts(
        file_type=FileType.VECTOR,
        drivers=frozenset({"ESRI Shapefile", "GPKG", "GeoJSON", "FlatGeobuf"}),
        geometry_kinds=frozenset({GeometryKind.POLYGON}),
    ),
    parameters=BoundaryParameters,
    steps=(
        GdalStep(
            name="load",
            description="Load the layer into PostGIS with COPY, assigning the manifest's CRS.",
            program=GdalProgram.OGR2OGR,
            args=(
                "-f",
                "PostgreSQL",
                "{postgis}",
                "{src}",
                "{layer}",
                "-nln",
                "{table}",
                "-lco",
                "SCHEMA={schema}",
                "-lco",
                "GEOMETRY_NAME=geom",
                "-lco",
                "FID={fid}",
                "-lco",
                "SPATIAL_INDEX=NONE",
                "-lco",
                "PRECISION=NO",
                "-nlt",
                "GEOMETRY",
                "-a_srs",
                "{crs}",
                "--config",
                "PG_USE_COPY",
                "YES",
            ),
        ),
        SqlCheckStep(
            name="require_polygons",
            description="Refuse features that are not polygons.",
            query=(
                "SELECT {fid}, ST_GeometryType(geom) AS geometry_type "
                "FROM {schema}.{table} "
                "WHERE geom IS NOT NULL AND ST_GeometryType(geom) NOT IN "
                "('ST_Polygon', 'ST_MultiPolygon', 'ST_CurvePolygon', 'ST_MultiSurface') "
                "ORDER BY {fid}"
            ),
            message=(
                "the layer holds points or lines; ingest_vector_boundary accepts polygon "
                "layers only"
            ),
        ),
        SqlStep(
            name="normalise",
            description=(
                "Linearise curves, make geometries valid, drop Z/M, force MultiPolygon and "
                "reproject to EPSG:4326."
            ),
            statement=(
                "ALTER TABLE {schema}.{table} "
                "ALTER COLUMN geom TYPE geometry(MultiPolygon, 4326) "
                "USING ST_Transform(ST_Multi(ST_CollectionExtract("
                "ST_MakeValid(ST_Force2D(ST_CurveToLine(geom)), 'method=structure'), 3)), 4326)"
            ),
        ),
        ExportStep(
            name="export",
            description="Export the table as GeoParquet 1.1 (WKB, bbox covering column).",
            format=ExportFormat.GEOPARQUET,
            table="{table}",
            geometry_column="geom",
        ),
    ),
)
"""The intent, validated when this module is imported by the plugin host."""


@hookimpl
def register_intents(registry: IntentRegistry) -> None:
    """Register ``ingest_vector_boundary``."""
    registry.register(INTENT)
