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
    RewriteStep,
    SqlCheckStep,
    hookimpl,
)

__all__ = [
    "INTENT",
    "NORMALISE_SQL",
    "NORMALISE_TYPE",
    "NORMALISE_USING",
    "BoundaryParameters",
    "register_intents",
]


class BoundaryParameters(BaseModel):
    """Parameters a manifest may give in ``metadata.parameters``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str | None = Field(
        default=None,
        min_length=1,
        description="Layer to ingest when a source (e.g. a GeoPackage) holds several.",
    )


_LINEAR = (
    "CASE WHEN ST_GeometryType(geom) IN ('ST_CurvePolygon', 'ST_MultiSurface') "
    "THEN ST_CurveToLine(geom) ELSE geom END"
)
"""The geometry without arcs; only curve types pay for ``ST_CurveToLine``."""

_ALREADY_VALID = (
    f"ST_IsValid({_LINEAR}) "
    f"AND ST_NPoints({_LINEAR}) = ST_NPoints(ST_RemoveRepeatedPoints({_LINEAR}))"
)
"""Rows ``ST_MakeValid`` would leave with the same vertices: valid, no repeated points.

GEOS's structure method rebuilds every polygon it is given (ring orientation, start vertex)
and drops repeated points even from valid ones; skipping it for valid rows without repeated
points keeps every vertex the old full pass kept, in the source's ring order.
"""

NORMALISE_TYPE = "geometry(MultiPolygon, 4326)"
"""The geometry column's type once normalised."""

NORMALISE_USING = (
    f"ST_Transform(ST_Multi(CASE WHEN {_ALREADY_VALID} THEN {_LINEAR} "
    f"ELSE ST_CollectionExtract(ST_MakeValid({_LINEAR}, 'method=structure'), 3) END), 4326)"
)
"""Each geometry normalised: GEOS's ``ST_MakeValid`` only for what needs it, which was most of
the cost when every row went through it. Z/M are already gone (``-dim XY`` in the load), and
``ST_Transform`` returns a geometry already in EPSG:4326 as it is. The column's type changes
anyway (from the load's generic ``geometry`` in the source CRS), so the table is rewritten
once; a ``rewrite`` step does it with PostgreSQL's parallel workers."""

NORMALISE_SQL = (
    f"ALTER TABLE {{schema}}.{{table}} ALTER COLUMN geom TYPE {NORMALISE_TYPE} "
    f"USING {NORMALISE_USING}"
)
"""The same normalisation as one ALTER TABLE (single-threaded), as this plugin ran it before
the ``rewrite`` step kind; kept as the reference the tests compare the step with."""


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
            description=(
                "Load the layer into PostGIS with COPY, assigning the manifest's CRS and "
                "dropping Z/M on the way."
            ),
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
                "-lco",
                "UNLOGGED=ON",
                "-nlt",
                "GEOMETRY",
                "-dim",
                "XY",
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
        RewriteStep(
            name="normalise",
            description=(
                "Linearise curves, make invalid geometries valid, force MultiPolygon and "
                "reproject to EPSG:4326, in one pass over the table."
            ),
            column="geom",
            type=NORMALISE_TYPE,
            using=NORMALISE_USING,
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
