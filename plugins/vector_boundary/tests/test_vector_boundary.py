"""Tests of ``ingest_vector_boundary``: its plan, resolved by the core and run by hand.

The executor that runs plans is not written yet, so these tests resolve the plan with the
core's ``resolve_plan`` and run each step themselves against the real tools: ogr2ogr (GDAL
3.6) loading into a real PostGIS, then the plan's SQL composed with ``PlannedSql.compose``.
The GeoParquet export is checked as a declaration only (table and geometry column exist).
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import spatial_etl_vector_boundary
from psycopg2 import sql
from pydantic import SecretStr
from spatial_etl import ExportFormat
from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.errors import PlanError
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.planning import (
    InputBinding,
    Plan,
    PlannedExport,
    PlannedGdal,
    PlannedSql,
    RunValues,
    resolve_plan,
)
from spatial_etl.settings import PostgisSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.steps.kind import StepContext
from spatial_etl.steps.rewrite import PlannedRewrite
from spatial_etl.testing import check_plugin, example_manifest, load_plugin
from spatial_etl_vector_boundary import BoundaryParameters

INTENT_NAME = "ingest_vector_boundary"
STEP_NAMES = ["load", "require_polygons", "normalise", "export"]

# Web-Mercator metres around 10 E, 50 N, so a reprojected coordinate is easy to recognise.
X0, Y0 = 1113195.0, 6446276.0


def _mercator(wkt: str) -> str:
    """Shift a WKT written in small local coordinates to (X0, Y0)."""

    def shift(match: re.Match[str]) -> str:
        x, y = float(match.group(1)), float(match.group(2))
        return f"{X0 + x:.1f} {Y0 + y:.1f}"

    return re.sub(r"(-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)", shift, wkt)


CURVED = "CURVEPOLYGON(CIRCULARSTRING(0 0, 500 500, 1000 0, 500 -500, 0 0))"
BOW_TIE = "POLYGON((0 0, 1000 1000, 1000 0, 0 1000, 0 0))"
SQUARE = "POLYGON((2000 0, 3000 0, 3000 1000, 2000 1000, 2000 0))"
MULTI = (
    "MULTIPOLYGON(((4000 0, 5000 0, 5000 1000, 4000 1000, 4000 0)),"
    "((6000 0, 7000 0, 7000 1000, 6000 1000, 6000 0)))"
)

# ----------------------------------------------------------------------------- plan running


class CheckFailedError(Exception):
    """A ``sql_check`` step selected offending rows: the run would stop here."""

    def __init__(self, step: PlannedSql, rows: list[tuple[Any, ...]]) -> None:
        super().__init__(f"{step.step}: {step.message} ({rows})")
        self.step = step
        self.rows = rows


def _intent() -> RegisteredIntent:
    (registered,) = [
        r for r in load_plugin(spatial_etl_vector_boundary) if r.intent.name == INTENT_NAME
    ]
    return registered


def _plan(
    gdal_path: str,
    layer: str | None,
    *,
    driver: str,
    schema: str,
    workdir: Path,
    postgis: str,
    crs: str = "EPSG:4326",
    parameters: Mapping[str, Any] | None = None,
) -> Plan:
    registered = _intent()
    manifest = example_manifest(registered, driver=driver, crs=crs, parameters=parameters)
    binding = InputBinding(index=0, file=manifest.files[0], gdal_path=gdal_path, layer=layer)
    run = RunValues(run_id="test-run", schema_name=schema, workdir=workdir, postgis=postgis)
    return resolve_plan(registered, manifest, binding, run)


def _run(plan: Plan, conn: Any, env: Mapping[str, str]) -> PlannedExport:
    """Run every step before the export; raise :class:`CheckFailedError` at a failing check."""
    runner = SubprocessGdalRunner(timeout_s=120)
    for step in plan.steps:
        if isinstance(step, PlannedGdal):
            runner.run(step.argv, env=env)
        elif isinstance(step, PlannedRewrite):  # run by its kind, as the core runs it
            dsn = SecretStr(os.environ["SPATIAL_ETL_POSTGIS_DSN"])  # pg_conn's database
            compute = PostgisCompute(PostgisSettings(postgis_dsn=dsn))
            try:
                context = StepContext(runner=runner, compute=compute, source=step.table)
                step_kinds().for_step(step).execute(step, context)
            finally:
                compute.close()
        elif isinstance(step, PlannedSql):
            with conn.cursor() as cur:
                cur.execute(step.compose())
                if step.kind == "sql_check":
                    rows = cur.fetchall()
                    if rows:
                        raise CheckFailedError(step, rows)
        else:
            return step
    raise AssertionError("the plan has no export step")


def _query(
    conn: Any, text: str | sql.Composable, args: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    with conn.cursor() as cur:
        cur.execute(text, args)
        return list(cur.fetchall())


def _select(conn: Any, schema: str, text: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run ``text`` with ``{table}`` bound to the loaded table, ``schema``.input_0."""
    return _query(conn, sql.SQL(text).format(table=sql.Identifier(schema, "input_0")), args)


def _assert_normalised(conn: Any, schema: str, expected: int) -> None:
    """Every row a valid 2D MultiPolygon in EPSG:4326 without arcs, the column typed so."""
    rows = _select(
        conn,
        schema,
        "SELECT GeometryType(geom), ST_SRID(geom), ST_IsValid(geom), ST_HasArc(geom), "
        "ST_NDims(geom), ST_IsEmpty(geom) FROM {table}",
    )
    assert len(rows) == expected
    assert all(row == ("MULTIPOLYGON", 4326, True, False, 2, False) for row in rows), rows
    assert _query(conn, "SELECT Find_SRID(%s, 'input_0', 'geom')", (schema,)) == [(4326,)]
    assert _query(
        conn,
        "SELECT type, coord_dimension FROM geometry_columns "
        "WHERE f_table_schema = %s AND f_table_name = 'input_0' AND f_geometry_column = 'geom'",
        (schema,),
    ) == [("MULTIPOLYGON", 2)]


def _assert_export_ready(conn: Any, schema: str, export: PlannedExport) -> None:
    assert export.format is ExportFormat.GEOPARQUET
    assert export.source == "input_0"
    columns = _query(
        conn,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (schema, export.source),
    )
    assert (export.geometry_column,) in columns


def _assert_confined(conn: Any, schema: str) -> None:
    """The run wrote its table in the scratch schema and nothing in ``public``."""
    public = _query(conn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    assert {name for (name,) in public} == {"spatial_ref_sys"}
    assert (
        _query(conn, "SELECT f_table_name FROM geometry_columns WHERE f_table_schema = 'public'")
        == []
    )
    ours = _query(conn, "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
    assert {name for (name,) in ours} == {"input_0"}


def _centroid(conn: Any, schema: str, name: str | None = None) -> tuple[float, float]:
    """Longitude and latitude of the centroid of the feature ``name`` (all when None)."""
    ((x, y),) = _select(
        conn,
        schema,
        "SELECT ST_X(ST_Centroid(ST_Collect(geom))), ST_Y(ST_Centroid(ST_Collect(geom))) "
        "FROM {table} WHERE %s IS NULL OR name = %s",
        (name, name),
    )
    return float(x), float(y)


# ----------------------------------------------------------------------------- declarations


def test_check_plugin_resolves_one_plan_per_driver() -> None:
    plans = check_plugin(spatial_etl_vector_boundary)

    assert sorted(plan.input.file.format for plan in plans) == sorted(
        {"ESRI Shapefile", "GPKG", "GeoJSON", "FlatGeobuf"}
    )
    for plan in plans:
        assert plan.intent == INTENT_NAME
        assert [step.step for step in plan.steps] == STEP_NAMES
        assert plan.skipped == ()
        assert isinstance(plan.export, PlannedExport)
        assert plan.export.format is ExportFormat.GEOPARQUET
        assert plan.export.source == "input_0"
        assert plan.export.geometry_column == "geom"
        load = plan.steps[0]
        assert isinstance(load, PlannedGdal)
        assert load.argv[0] == "ogr2ogr"
        assert load.output is None
        check, normalise = plan.steps[1], plan.steps[2]
        assert isinstance(check, PlannedSql)
        assert check.kind == "sql_check"
        assert isinstance(normalise, PlannedRewrite)
        assert normalise.kind == "rewrite"
        # Identifiers only through sql.Identifier, never pasted into the text.
        run_table = {"schema": "proc_0f2c4e1a5b6d4c8e", "table": "input_0"}
        assert check.identifiers == run_table | {"fid": "etl_fid"}
        assert (normalise.schema_name, normalise.table) == tuple(run_table.values())
        assert normalise.identifiers == {}  # the expression names no table: the kind binds it
        for sql_step in (check, normalise):
            assert "proc_" not in sql_step.template
            assert "etl_fid" not in sql_step.template


def test_load_argv_is_filled_from_run_and_binding(tmp_path: Path) -> None:
    plan = _plan(
        "/vsis3/landing-zone/b/x.gpkg",
        "parcels",
        driver="GPKG",
        schema="proc_abc",
        workdir=tmp_path,
        postgis="PG:host=h port=5432 dbname=d user=u",
        crs="EPSG:3857",
    )
    load = plan.steps[0]
    assert isinstance(load, PlannedGdal)
    argv = list(load.argv)
    assert argv[:6] == [
        "ogr2ogr",
        "-f",
        "PostgreSQL",
        "PG:host=h port=5432 dbname=d user=u",
        "/vsis3/landing-zone/b/x.gpkg",
        "parcels",
    ]
    assert argv[argv.index("-nln") + 1] == "input_0"
    assert "SCHEMA=proc_abc" in argv
    assert argv[argv.index("-a_srs") + 1] == "EPSG:3857"
    assert not any("password" in arg.lower() for arg in argv)


# ----------------------------------------------------------------------------- real runs


@pytest.mark.gdal
@pytest.mark.postgis
def test_geopackage_curved_and_invalid_polygons_are_normalised(
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    rows = [
        {"wkt": _mercator(CURVED), "name": "curved"},
        {"wkt": _mercator(BOW_TIE), "name": "bow tie"},
        {"wkt": _mercator(SQUARE), "name": "square"},
        {"wkt": _mercator(MULTI), "name": "multi"},
    ]
    source = make_vector(
        "boundaries.gpkg", rows, driver="GPKG", crs="EPSG:3857", geometry_type="GEOMETRY"
    )
    plan = _plan(
        str(source),
        "boundaries",
        driver="GPKG",
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
        crs="EPSG:3857",
    )

    load = plan.steps[0]
    assert isinstance(load, PlannedGdal)
    SubprocessGdalRunner(timeout_s=120).run(load.argv, env=gdal_pg_source[1])
    # As loaded: an arc, an invalid polygon, mixed types, Web Mercator.
    loaded = _select(
        pg_conn,
        scratch_schema,
        "SELECT name, GeometryType(geom), ST_HasArc(geom), ST_IsValid(geom), ST_SRID(geom) "
        "FROM {table}",
    )
    assert sorted(loaded) == [
        ("bow tie", "POLYGON", False, False, 3857),
        ("curved", "CURVEPOLYGON", True, True, 3857),
        ("multi", "MULTIPOLYGON", False, True, 3857),
        ("square", "POLYGON", False, True, 3857),
    ]

    export = _run(plan.model_copy(update={"steps": plan.steps[1:]}), pg_conn, gdal_pg_source[1])

    _assert_normalised(pg_conn, scratch_schema, expected=len(rows))
    names = _select(pg_conn, scratch_schema, "SELECT name FROM {table} ORDER BY name")
    assert [name for (name,) in names] == sorted(row["name"] for row in rows)
    # The bow-tie became its two triangles; the multipolygon kept its two parts.
    parts = dict(
        _select(pg_conn, scratch_schema, "SELECT name, ST_NumGeometries(geom) FROM {table}")
    )
    assert parts == {"curved": 1, "bow tie": 2, "square": 1, "multi": 2}
    # The circle was linearised (many vertices), not replaced by its control points.
    ((vertices,),) = _select(
        pg_conn, scratch_schema, "SELECT ST_NPoints(geom) FROM {table} WHERE name = 'curved'"
    )
    assert vertices > 16
    lon, lat = _centroid(pg_conn, scratch_schema)
    assert 9.9 < lon < 10.2
    assert 49.9 < lat < 50.1
    _assert_export_ready(pg_conn, scratch_schema, export)
    _assert_confined(pg_conn, scratch_schema)


@pytest.mark.gdal
@pytest.mark.postgis
def test_geopackage_arcs_reach_postgis_before_normalise(
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    """The load keeps curves (so ``normalise`` is what linearises them)."""
    source = make_vector(
        "curves.gpkg",
        [{"wkt": _mercator(CURVED), "name": "curved"}],
        driver="GPKG",
        crs="EPSG:3857",
        geometry_type="CURVEPOLYGON",
    )
    plan = _plan(
        str(source),
        "curves",
        driver="GPKG",
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
        crs="EPSG:3857",
    )
    load = plan.steps[0]
    assert isinstance(load, PlannedGdal)
    SubprocessGdalRunner(timeout_s=120).run(load.argv, env=gdal_pg_source[1])
    assert _select(
        pg_conn,
        scratch_schema,
        "SELECT GeometryType(geom), ST_HasArc(geom), ST_SRID(geom) FROM {table}",
    ) == [("CURVEPOLYGON", True, 3857)]

    export = _run(plan.model_copy(update={"steps": plan.steps[1:]}), pg_conn, gdal_pg_source[1])

    _assert_normalised(pg_conn, scratch_schema, expected=1)
    _assert_export_ready(pg_conn, scratch_schema, export)


@pytest.mark.gdal
@pytest.mark.postgis
def test_zipped_shapefile_through_vsizip(
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    rows = [
        {"wkt": "POLYGON((10 50, 10.1 50, 10.1 50.1, 10 50.1, 10 50))", "name": "west"},
        {"wkt": "POLYGON((11 50, 11.1 50, 11.1 50.1, 11 50.1, 11 50))", "name": "east"},
    ]
    shp = make_vector("parcels.shp", rows, driver="ESRI Shapefile", crs="EPSG:4326")
    archive = tmp_path / "parcels.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            zipped.write(shp.with_suffix(suffix), arcname=f"parcels{suffix}")
    for suffix in (".shp", ".shx", ".dbf", ".prj"):
        shp.with_suffix(suffix).unlink()  # GDAL must read the archive, not the loose files
    plan = _plan(
        f"/vsizip/{archive.resolve()}",
        shp.stem,
        driver="ESRI Shapefile",
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
    )

    export = _run(plan, pg_conn, gdal_pg_source[1])

    _assert_normalised(pg_conn, scratch_schema, expected=2)
    names = _select(pg_conn, scratch_schema, "SELECT name FROM {table} ORDER BY name")
    assert names == [("east",), ("west",)]
    lon, lat = _centroid(pg_conn, scratch_schema, "west")
    assert lon == pytest.approx(10.05)
    assert lat == pytest.approx(50.05)
    _assert_export_ready(pg_conn, scratch_schema, export)
    _assert_confined(pg_conn, scratch_schema)


@pytest.mark.gdal
@pytest.mark.postgis
@pytest.mark.parametrize(
    ("driver", "name"), [("GeoJSON", "areas.geojson"), ("FlatGeobuf", "areas.fgb")]
)
def test_geojson_and_flatgeobuf_inputs(
    driver: str,
    name: str,
    *,
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    rows = [
        {"wkt": "POLYGON((10 50, 10.1 50, 10.1 50.1, 10 50.1, 10 50))", "name": "plain"},
        {"wkt": "POLYGON((12 50, 12.2 50.2, 12.2 50, 12 50.2, 12 50))", "name": "bow tie"},
        {
            "wkt": "MULTIPOLYGON(((13 50, 13.1 50, 13.1 50.1, 13 50)),"
            "((13.2 50, 13.3 50, 13.3 50.1, 13.2 50)))",
            "name": "multi",
        },
    ]
    source = make_vector(name, rows, driver=driver, crs="EPSG:4326")
    plan = _plan(
        str(source),
        Path(name).stem,
        driver=driver,
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
    )

    export = _run(plan, pg_conn, gdal_pg_source[1])

    _assert_normalised(pg_conn, scratch_schema, expected=3)
    names = _select(pg_conn, scratch_schema, "SELECT name FROM {table} ORDER BY name")
    assert names == [("bow tie",), ("multi",), ("plain",)]
    lon, lat = _centroid(pg_conn, scratch_schema, "plain")
    assert lon == pytest.approx(10.05)
    assert lat == pytest.approx(50.05)
    _assert_export_ready(pg_conn, scratch_schema, export)
    _assert_confined(pg_conn, scratch_schema)


@pytest.mark.gdal
@pytest.mark.postgis
def test_shapefile_without_prj_gets_the_manifest_crs(
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    # UTM 33N metres: easting 500000 is the zone's central meridian, 15 E.
    rows = [
        {
            "wkt": "POLYGON((499000 5499000, 501000 5499000, 501000 5501000, "
            "499000 5501000, 499000 5499000))",
            "name": "utm",
        }
    ]
    shp = make_vector("utm.shp", rows, driver="ESRI Shapefile", crs=None)
    assert not shp.with_suffix(".prj").exists()
    plan = _plan(
        str(shp),
        "utm",
        driver="ESRI Shapefile",
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
        crs="EPSG:32633",
    )

    export = _run(plan, pg_conn, gdal_pg_source[1])

    _assert_normalised(pg_conn, scratch_schema, expected=1)
    lon, lat = _centroid(pg_conn, scratch_schema)
    assert lon == pytest.approx(15.0, abs=1e-6)
    assert lat == pytest.approx(49.65, abs=0.01)
    _assert_export_ready(pg_conn, scratch_schema, export)
    _assert_confined(pg_conn, scratch_schema)


@pytest.mark.gdal
@pytest.mark.postgis
@pytest.mark.parametrize(
    ("wkts", "postgis_type", "original_type"),
    [
        (["POINT(10 50)", "POINT(11 51)"], "ST_Point", "POINT"),
        (["LINESTRING(10 50, 11 51)", "LINESTRING(12 50, 13 51)"], "ST_LineString", "LINESTRING"),
    ],
    ids=["points", "lines"],
)
def test_points_or_lines_are_refused_before_normalise(
    wkts: list[str],
    postgis_type: str,
    original_type: str,
    *,
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    rows = [{"wkt": wkt, "name": f"f{i}"} for i, wkt in enumerate(wkts)]
    source = make_vector("features.gpkg", rows, driver="GPKG", crs="EPSG:4326")
    plan = _plan(
        str(source),
        "features",
        driver="GPKG",
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
    )

    with pytest.raises(CheckFailedError) as failed:
        _run(plan, pg_conn, gdal_pg_source[1])

    assert failed.value.step.step == "require_polygons"
    assert failed.value.step.message is not None
    assert "points or lines" in failed.value.step.message
    fids = _select(pg_conn, scratch_schema, "SELECT etl_fid FROM {table} ORDER BY etl_fid")
    assert failed.value.rows == [(fid, postgis_type) for (fid,) in fids]
    assert len(failed.value.rows) == len(wkts)
    # normalise never ran: the geometries and the column are as loaded.
    types = _select(pg_conn, scratch_schema, "SELECT DISTINCT GeometryType(geom) FROM {table}")
    assert types == [(original_type,)]
    assert _query(
        pg_conn,
        "SELECT type FROM geometry_columns WHERE f_table_schema = %s AND f_table_name = 'input_0'",
        (scratch_schema,),
    ) == [("GEOMETRY",)]
    _assert_confined(pg_conn, scratch_schema)


@pytest.mark.gdal
@pytest.mark.postgis
def test_check_reports_only_the_non_polygons_of_a_mixed_layer(
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    rows = [
        {"wkt": "POLYGON((10 50, 10.1 50, 10.1 50.1, 10 50.1, 10 50))", "name": "polygon"},
        {"wkt": "POINT(10 50)", "name": "point"},
        {"wkt": "MULTIPOLYGON(((11 50, 11.1 50, 11.1 50.1, 11 50)))", "name": "multi"},
    ]
    source = make_vector("mixed.gpkg", rows, driver="GPKG", geometry_type="GEOMETRY")
    plan = _plan(
        str(source),
        "mixed",
        driver="GPKG",
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
    )

    with pytest.raises(CheckFailedError) as failed:
        _run(plan, pg_conn, gdal_pg_source[1])

    ((point_fid,),) = _select(
        pg_conn, scratch_schema, "SELECT etl_fid FROM {table} WHERE name = 'point'"
    )
    assert failed.value.rows == [(point_fid, "ST_Point")]


@pytest.mark.gdal
@pytest.mark.postgis
def test_layer_parameter_selects_one_layer_of_a_geopackage(
    make_vector: Callable[..., Path],
    pg_conn: Any,
    scratch_schema: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    tmp_path: Path,
) -> None:
    source = make_vector(
        "two.gpkg",
        [{"wkt": "POLYGON((10 50, 10.1 50, 10.1 50.1, 10 50.1, 10 50))", "name": "in a"}],
        layer="a",
    )
    make_vector(
        "two.gpkg",
        [
            {"wkt": "POLYGON((20 40, 20.1 40, 20.1 40.1, 20 40.1, 20 40))", "name": "in b"},
            {"wkt": "POLYGON((21 40, 21.1 40, 21.1 40.1, 21 40.1, 21 40))", "name": "also b"},
        ],
        layer="b",
        append_to=source,
    )
    registered = _intent()
    parameters = {"layer": "b"}
    manifest = example_manifest(registered, driver="GPKG", parameters=parameters)
    assert BoundaryParameters.model_validate(manifest.metadata.parameters).layer == "b"
    # The caller (the executor) sets the binding's layer from the validated parameter.
    plan = _plan(
        str(source),
        "b",
        driver="GPKG",
        schema=scratch_schema,
        workdir=tmp_path,
        postgis=gdal_pg_source[0],
        parameters=parameters,
    )
    assert plan.parameters == {"layer": "b"}
    load = plan.steps[0]
    assert isinstance(load, PlannedGdal)
    assert load.argv[5] == "b"
    assert load.argv[4] == str(source)

    export = _run(plan, pg_conn, gdal_pg_source[1])

    _assert_normalised(pg_conn, scratch_schema, expected=2)
    names = _select(pg_conn, scratch_schema, "SELECT name FROM {table} ORDER BY name")
    assert names == [("also b",), ("in b",)]
    _assert_export_ready(pg_conn, scratch_schema, export)
    _assert_confined(pg_conn, scratch_schema)


@pytest.mark.parametrize("parameters", [{"layer": ""}, {"layr": "b"}, {"layer": 3}])
def test_invalid_layer_parameter_is_a_plan_error(
    parameters: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(PlanError, match=INTENT_NAME):
        _plan(
            "/data/two.gpkg",
            "b",
            driver="GPKG",
            schema="proc_x",
            workdir=tmp_path,
            postgis="PG:dbname=x",
            parameters=parameters,
        )


def test_load_without_a_layer_is_a_plan_error(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=r"\{layer\}"):
        _plan(
            "/data/two.gpkg",
            None,
            driver="GPKG",
            schema="proc_x",
            workdir=tmp_path,
            postgis="PG:dbname=x",
        )
