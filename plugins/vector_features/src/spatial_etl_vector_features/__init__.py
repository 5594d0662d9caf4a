"""The ``ingest_vector_features`` intent: any vector layer to GeoParquet, one geometry type each.

A pure declaration, executed by the core: ogr2ogr into the run's PostGIS schema, SQL there,
the GeoParquet export. It uses three parts of the plugin contract the boundary intent does
not: ``Accepts.layers="each"`` (every layer of a GeoPackage is its own dataset),
``SqlStep.removes_features`` (null geometries dropped on request, counted in the lineage) and
``ExportStep.partition`` (a layer mixing points, lines and polygons becomes one dataset per
family).

The SQL touches only the rows that need it: curves are linearised where there are curves,
polygons made valid where they are invalid, singles promoted to multi only in a family that
mixes both. Two full rewrites are unavoidable and happen only when needed: reprojection, and
dropping the Z the load gave 2D data (PostGIS's column must be 3D before the first row arrives,
so the load keeps Z whatever the source is, and a layer whose Z values are all 0 is flattened).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator
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
    crs_problem,
    hookimpl,
)

__all__ = ["INTENT", "FeatureParameters", "MixedGeometries", "register_intents"]

FAMILY_COLUMN = "etl_family"
"""The view's column naming each feature's geometry family; the export partitions by it."""


class MixedGeometries(StrEnum):
    """What to do with a layer that holds more than one geometry family."""

    SPLIT = "split"
    REFUSE = "refuse"


class FeatureParameters(BaseModel):
    """Parameters a manifest may give in ``metadata.parameters``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str | None = Field(
        default=None,
        min_length=1,
        description="Ingest only this layer; unset, every layer of the file becomes its own "
        "dataset (<dataset>_<layer> when there are several).",
    )
    target_crs: str = Field(
        default="EPSG:4326",
        description="EPSG code of the CRS the features are reprojected to.",
    )
    mixed_geometries: MixedGeometries = Field(
        default=MixedGeometries.SPLIT,
        description="A layer mixing points, lines and polygons: split publishes one dataset "
        "per family (<dataset>_point, _line, _polygon; features without geometry in _none), "
        "refuse fails the run listing the features of other families.",
    )
    keep_z: bool = Field(
        default=True,
        description="Keep Z coordinates when the layer has any other than 0 (declared as "
        "'... Z' in the GeoParquet metadata); false writes 2D geometries.",
    )
    drop_null_geometries: bool = Field(
        default=False,
        description="Remove features without geometry (counted in the asset's lineage); by "
        "default they are kept as rows with a null geometry.",
    )

    @field_validator("target_crs")
    @classmethod
    def _epsg_code(cls, value: str) -> str:
        if not re.fullmatch(r"EPSG:[0-9]{1,6}", value):
            raise ValueError("target_crs must be an EPSG code such as EPSG:4326")
        if problem := crs_problem(value):
            raise ValueError(problem)
        return value


INTENT = Intent(
    name="ingest_vector_features",
    summary="Any vector layer (points, lines, polygons) -> GeoParquet, one geometry type each",
    description=(
        "Loads every layer of each file (Shapefile, plain or zipped; GeoPackage; GeoJSON; "
        "FlatGeobuf), or the one named by 'layer', into the run's PostGIS schema. Curves are "
        "linearised, invalid polygons made valid, Z kept when present, features reprojected "
        "to target_crs (EPSG:4326 by default); attributes and features without geometry are "
        "kept. Each output holds one geometry type: a family mixing single and multi parts is "
        "promoted to multi, and a layer mixing families is split (or refused)."
    ),
    accepts=Accepts(
        file_type=FileType.VECTOR,
        drivers=frozenset({"ESRI Shapefile", "GPKG", "GeoJSON", "FlatGeobuf"}),
        geometry_kinds=frozenset({GeometryKind.POINT, GeometryKind.LINE, GeometryKind.POLYGON}),
        layers="each",
    ),
    parameters=FeatureParameters,
    steps=(
        GdalStep(
            name="load",
            description="Load the layer into PostGIS with COPY (3D, assigning the manifest's CRS).",
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
                "-dim",
                "XYZ",
                "-a_srs",
                "{crs}",
                "--config",
                "PG_USE_COPY",
                "YES",
            ),
        ),
        SqlCheckStep(
            name="refuse_mixed",
            description="With mixed_geometries=refuse, refuse a layer mixing geometry families.",
            query=(
                "WITH first AS (SELECT ST_Dimension(geom) AS dimension FROM {schema}.{table} "
                "WHERE geom IS NOT NULL ORDER BY {fid} LIMIT 1) "
                "SELECT {fid}, GeometryType(geom) AS geometry_type FROM {schema}.{table}, first "
                "WHERE {params.mixed_geometries} = 'refuse' AND geom IS NOT NULL "
                "AND ST_Dimension(geom) <> first.dimension ORDER BY {fid}"
            ),
            message=(
                "the layer mixes points, lines and polygons (the rows listed differ from the "
                "first feature's family); set mixed_geometries to 'split' to publish one "
                "dataset per family"
            ),
        ),
        SqlStep(
            name="drop_null_geometries",
            description="Remove the features without geometry.",
            when="drop_null_geometries",
            removes_features=True,
            statement=(
                "WITH gone AS (DELETE FROM {schema}.{table} WHERE geom IS NULL RETURNING 1) "
                "SELECT count(*)::integer FROM gone"
            ),
        ),
        SqlStep(
            name="linearise",
            description="Replace curves by line segments (only features holding curves).",
            statement=(
                "UPDATE {schema}.{table} SET geom = ST_CurveToLine(geom) "
                "WHERE ST_HasArc(geom) OR GeometryType(geom) IN ('CIRCULARSTRING', "
                "'COMPOUNDCURVE', 'CURVEPOLYGON', 'MULTICURVE', 'MULTISURFACE')"
            ),
        ),
        SqlStep(
            name="make_valid",
            description="Make invalid polygons valid (only the invalid ones).",
            statement=(
                "UPDATE {schema}.{table} SET geom = "
                "ST_CollectionExtract(ST_MakeValid(geom, 'method=structure'), 3) "
                "WHERE ST_Dimension(geom) = 2 AND NOT ST_IsValid(geom)"
            ),
        ),
        SqlStep(
            name="dimension_and_crs",
            description=(
                "Drop Z when keep_z is false or every Z is 0, and reproject to target_crs; "
                "the table is rewritten only when one of them changes something."
            ),
            statement=(
                "DO $etl$ DECLARE "
                "target integer := split_part({params.target_crs}, ':', 2)::integer; "
                "source integer := (SELECT ST_SRID(geom) FROM {schema}.{table} "
                "WHERE geom IS NOT NULL LIMIT 1); "
                "flat boolean := NOT {params.keep_z} OR NOT EXISTS (SELECT 1 FROM "
                "{schema}.{table} WHERE ST_ZMin(geom) <> 0 OR ST_ZMax(geom) <> 0); "
                "BEGIN "
                "IF flat THEN EXECUTE format('ALTER TABLE {schema}.{table} ALTER COLUMN geom "
                "TYPE geometry(Geometry, %s) USING ST_Transform(ST_Force2D(geom), %s)', "
                "target, target); "
                "ELSIF source IS DISTINCT FROM target THEN EXECUTE format('ALTER TABLE "
                "{schema}.{table} ALTER COLUMN geom TYPE geometry(GeometryZ, %s) "
                "USING ST_Transform(geom, %s)', target, target); "
                "END IF; END $etl$"
            ),
        ),
        SqlStep(
            name="promote_to_multi",
            description=(
                "Where a family mixes single and multi geometries, make its singles multi."
            ),
            statement=(
                "WITH multi AS (SELECT DISTINCT GeometryType(geom) AS type "
                "FROM {schema}.{table} WHERE GeometryType(geom) LIKE 'MULTI%') "
                "UPDATE {schema}.{table} AS t SET geom = ST_Multi(t.geom) FROM multi "
                "WHERE multi.type = 'MULTI' || GeometryType(t.geom)"
            ),
        ),
        SqlStep(
            name="families",
            description=(
                "A view naming each feature's family; features without geometry join the "
                "layer's only family, or 'none' when it has several."
            ),
            statement=(
                "CREATE VIEW {schema}.{output_table} AS "
                "WITH layer AS (SELECT CASE WHEN count(DISTINCT ST_Dimension(geom)) = 1 "
                "THEN min(ST_Dimension(geom)) END AS dimension "
                "FROM {schema}.{table} WHERE geom IS NOT NULL) "
                "SELECT t.*, CASE COALESCE(ST_Dimension(t.geom), layer.dimension) "
                "WHEN 0 THEN 'point' WHEN 1 THEN 'line' WHEN 2 THEN 'polygon' ELSE 'none' "
                "END AS etl_family FROM {schema}.{table} AS t, layer"
            ),
        ),
        ExportStep(
            name="export",
            description=(
                "Export GeoParquet 1.1 (WKB, bbox covering column), one dataset per family."
            ),
            format=ExportFormat.GEOPARQUET,
            table="{output_table}",
            geometry_column="geom",
            partition=FAMILY_COLUMN,
        ),
    ),
)
"""The intent, validated when this module is imported by the plugin host."""


@hookimpl
def register_intents(registry: IntentRegistry) -> None:
    """Register ``ingest_vector_features``."""
    registry.register(INTENT)
