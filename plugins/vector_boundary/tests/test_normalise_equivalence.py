"""The cheaper ``normalise`` gives the same GeoParquet as the full pass it replaced.

``OLD_NORMALISE`` below is the statement the plugin ran before: every row linearised, made 2D,
passed through ``ST_MakeValid`` and rewritten. It is kept here, as the reference the new
statement must match, not in the plugin. Both paths load the same file (the old load without
``-dim XY``), run their SQL and are exported with the core's exporter; the files must hold the
same columns, attributes, bbox and ``geo`` metadata, row by row in the same order.

Geometries: a row the old pass fixed (invalid rings, repeated points) goes through the same
functions in the new one, so its WKB is byte-equal. A valid row (curves once linearised
included) the old pass sent
through GEOS anyway came back rebuilt (rings reoriented, start vertex moved) with the same
vertices; the new pass leaves it as loaded, so such rows are compared after ``ST_Normalize``
with ``ST_OrderingEquals`` — exact coordinates, no tolerance.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import psycopg2
import pyarrow.parquet as pq
import pytest
import spatial_etl_vector_boundary
from psycopg2 import sql
from pydantic import SecretStr
from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.export.geoparquet import export_geoparquet
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.run.planning import (
    InputBinding,
    PlannedGdal,
    RunValues,
    resolve_plan,
)
from spatial_etl.settings import PostgisSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.steps.kind import StepContext
from spatial_etl.steps.rewrite import PlannedRewrite
from spatial_etl.steps.sql import bind
from spatial_etl.testing import example_manifest, load_plugin
from spatial_etl_vector_boundary import NORMALISE_SQL

OLD_NORMALISE = (
    "ALTER TABLE {schema}.{table} "
    "ALTER COLUMN geom TYPE geometry(MultiPolygon, 4326) "
    "USING ST_Transform(ST_Multi(ST_CollectionExtract("
    "ST_MakeValid(ST_Force2D(ST_CurveToLine(geom)), 'method=structure'), 3)), 4326)"
)
"""The ``normalise`` statement as shipped before the cheaper one: the fixed reference."""

TABLE = "input_0"
X0, Y0 = 500000.0, 5500000.0  # UTM 33N metres, about 15 E 49.6 N

# name -> WKT in small local coordinates; "" is a null geometry.
SHAPES: dict[str, str] = {
    "curved": "CURVEPOLYGON(CIRCULARSTRING(0 0, 500 500, 1000 0, 500 -500, 0 0))",
    "surfaces": (
        "MULTISURFACE(CURVEPOLYGON(CIRCULARSTRING(2000 0, 2500 500, 3000 0, 2500 -500, 2000 0)),"
        "((4000 0, 5000 0, 5000 1000, 4000 1000, 4000 0)))"
    ),
    "bow tie": "POLYGON((0 0, 1000 1000, 1000 0, 0 1000, 0 0))",
    "self-touching": (
        "POLYGON((0 0, 1000 0, 1000 1000, 500 1000, 700 500, 300 500, 500 1000, 0 1000, 0 0))"
    ),
    "overlapping parts": (
        "MULTIPOLYGON(((0 0, 600 0, 600 600, 0 600, 0 0)),((300 300, 900 300, 900 900, 300 900, "
        "300 300)))"
    ),
    "repeated point": "POLYGON((0 0, 1000 0, 1000 0, 1000 1000, 0 1000, 0 0))",
    "square ccw": "POLYGON((2000 0, 3000 0, 3000 1000, 2000 1000, 2000 0))",
    "square cw": "POLYGON((2000 0, 2000 1000, 3000 1000, 3000 0, 2000 0))",
    "holed": (
        "POLYGON((0 0, 1000 0, 1000 1000, 0 1000, 0 0),(100 100, 100 200, 200 200, 200 100, "
        "100 100))"
    ),
    "collinear": "POLYGON((0 0, 500 0, 1000 0, 1000 1000, 0 1000, 0 0))",
    "multi": (
        "MULTIPOLYGON(((4000 0, 5000 0, 5000 1000, 4000 1000, 4000 0)),"
        "((6000 0, 7000 0, 7000 1000, 6000 1000, 6000 0)))"
    ),
    "empty": "POLYGON EMPTY",
    "null": "",
}
# Rows both passes send through ST_MakeValid: the new one must give their exact bytes.
FIXED = {"bow tie", "self-touching", "overlapping parts", "repeated point"}

_KEYWORDS = re.compile(r"\b(CURVEPOLYGON|CIRCULARSTRING|MULTISURFACE|MULTIPOLYGON|POLYGON)\b")
_COORDS = re.compile(r"(-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)")


def _place(wkt: str, dims: str) -> str:
    """Shift to (X0, Y0) and give every vertex the ``dims`` ordinates (Z, M or ZM)."""
    counter = iter(range(1, 10_000))

    def vertex(match: re.Match[str]) -> str:
        x, y = X0 + float(match.group(1)), Y0 + float(match.group(2))
        extra = "".join(f" {next(counter) * 1.5}" for _ in dims)
        return f"{x:.1f} {y:.1f}{extra}"

    placed = _COORDS.sub(vertex, wkt)
    return _KEYWORDS.sub(lambda m: f"{m.group(1)} {dims}", placed) if dims else placed


def _intent() -> Any:
    (registered,) = [
        r
        for r in load_plugin(spatial_etl_vector_boundary)
        if r.intent.name == "ingest_vector_boundary"
    ]
    return registered


Way = Literal["old", "alter", "rewrite"]
"""How ``normalise`` runs: the old full statement, the plugin's expression as one ALTER TABLE
(``NORMALISE_SQL``), or the plugin's ``rewrite`` step as the core runs it (parallel copy)."""


def _run_path(
    source: Path,
    schema: str,
    *,
    way: Way,
    services: _Services,
    tmp_path: Path,
) -> None:
    """Load ``source`` into ``schema`` and normalise it the given ``way``."""
    registered = _intent()
    manifest = example_manifest(registered, driver="GPKG", crs="EPSG:32633")
    binding = InputBinding(index=0, file=manifest.files[0], gdal_path=str(source), layer="shapes")
    run = RunValues(
        run_id="test-run", schema_name=schema, workdir=tmp_path, postgis=services.gdal_source[0]
    )
    plan = resolve_plan(registered, manifest, binding, run)
    runner = SubprocessGdalRunner(timeout_s=120)
    compute = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(services.dsn)))
    try:
        for step in plan.steps:
            if isinstance(step, PlannedGdal):
                argv = list(step.argv)
                if way == "old":
                    at = argv.index("-dim")
                    del argv[at : at + 2]
                runner.run(argv, env=services.gdal_source[1])
            elif isinstance(step, PlannedRewrite) and way != "rewrite":
                template = OLD_NORMALISE if way == "old" else NORMALISE_SQL
                table = {"schema": step.schema_name, "table": step.table}
                compute.execute(bind(template, table, {}), step=step.step)
            else:
                context = StepContext(runner=runner, compute=compute, source=str(source))
                step_kinds().for_step(step).execute(step, context)
    finally:
        compute.close()


@pytest.fixture
def reference_schema(pg_conn: Any) -> Iterator[str]:
    """A second scratch schema, for the old path."""
    name = f"test_ref_{uuid.uuid4().hex[:12]}"
    with pg_conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with pg_conn.cursor() as cur:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))


def _same_vertices(pg_conn: Any, old: bytes, new: bytes) -> bool:
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT ST_OrderingEquals(ST_Normalize(ST_GeomFromWKB(%s)), "
            "ST_Normalize(ST_GeomFromWKB(%s)))",
            (psycopg2.Binary(old), psycopg2.Binary(new)),
        )
        row = cur.fetchone()
    return bool(row and row[0])


def _geometries(table: Any) -> Sequence[bytes | None]:
    return table.column("geometry").to_pylist()  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Services:
    """What both paths run against: the database, GDAL's PG: source, the two schemas."""

    conn: Any
    dsn: str
    gdal_source: tuple[str, dict[str, str]]
    new_schema: str
    old_schema: str


@pytest.fixture
def services(
    pg_conn: Any,
    postgis_dsn: str,
    gdal_pg_source: tuple[str, dict[str, str]],
    scratch_schema: str,
    reference_schema: str,
) -> _Services:
    return _Services(pg_conn, postgis_dsn, gdal_pg_source, scratch_schema, reference_schema)


@pytest.mark.gdal
@pytest.mark.postgis
@pytest.mark.parametrize("dims", ["", "Z", "M", "ZM"])
def test_new_normalise_exports_what_the_old_one_did(
    dims: str, make_vector: Callable[..., Path], services: _Services, tmp_path: Path
) -> None:
    pg_conn = services.conn
    source = _shapes(make_vector, dims)
    before = _exported("old", source, services.old_schema, services, tmp_path)
    after = _exported("rewrite", source, services.new_schema, services, tmp_path)

    # The source really holds the ordinates the comparison is about.
    listing = subprocess.run(
        ["ogrinfo", "-ro", "-al", str(source)], check=True, capture_output=True, text=True
    ).stdout
    assert (f"CURVEPOLYGON {dims} (" if dims else "CURVEPOLYGON (") in listing
    assert before.schema == after.schema  # columns, types and the geo metadata (bbox, types)
    assert before.schema.metadata == after.schema.metadata
    assert before.num_rows == after.num_rows == len(SHAPES)
    assert before.drop_columns(["geometry"]).equals(after.drop_columns(["geometry"]))
    names = before.column("name").to_pylist()
    assert names == list(SHAPES)
    for name, old_wkb, new_wkb in zip(names, _geometries(before), _geometries(after), strict=True):
        if name in FIXED or old_wkb is None or new_wkb is None:
            assert old_wkb == new_wkb, name
        else:
            assert old_wkb == new_wkb or _same_vertices(pg_conn, old_wkb, new_wkb), name


@pytest.mark.gdal
@pytest.mark.postgis
@pytest.mark.parametrize("dims", ["", "Z"])
def test_the_parallel_rewrite_exports_exactly_what_one_alter_table_does(
    dims: str, make_vector: Callable[..., Path], services: _Services, tmp_path: Path
) -> None:
    """Same expression, run as ALTER TABLE or as the rewrite kind's copy: the same file."""
    source = _shapes(make_vector, dims)
    altered = _exported("alter", source, services.old_schema, services, tmp_path)
    rewritten = _exported("rewrite", source, services.new_schema, services, tmp_path)

    assert rewritten.equals(altered)  # every column, every row, in order; the geometry bytes
    assert rewritten.schema.metadata == altered.schema.metadata
    assert rewritten.column("name").to_pylist() == list(SHAPES)
    with services.conn.cursor() as cur:
        cur.execute(
            "SELECT c.relpersistence, pg_get_constraintdef(k.oid), "
            "format_type(a.atttypid, a.atttypmod) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'p' "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'geom' "
            "WHERE n.nspname = %s AND c.relname = %s",
            (services.new_schema, TABLE),
        )
        # Still unlogged like the load's table, still keyed by the fid, the new type.
        assert cur.fetchall() == [("u", "PRIMARY KEY (etl_fid)", "geometry(MultiPolygon,4326)")]
        cur.execute(
            "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r'",
            (services.new_schema,),
        )
        assert cur.fetchall() == [(TABLE,)]  # the copy took the table's place, nothing else


def _shapes(make_vector: Callable[..., Path], dims: str) -> Path:
    """A GeoPackage of every shape in SHAPES, with ``dims`` ordinates (Z, M, ZM or none)."""
    rows = [
        {"wkt": _place(wkt, dims) if wkt else "", "name": name, "value": str(index * 7)}
        for index, (name, wkt) in enumerate(SHAPES.items())
    ]
    return make_vector(
        "shapes.gpkg", rows, driver="GPKG", crs="EPSG:32633", geometry_type=f"GEOMETRY{dims}"
    )


def _exported(way: Way, source: Path, schema: str, services: _Services, tmp_path: Path) -> Any:
    """Load and normalise ``source`` the given way, export it, read the file back."""
    _run_path(source, schema, way=way, services=services, tmp_path=tmp_path)
    out = tmp_path / f"{way}.parquet"
    export_geoparquet(services.dsn, schema, TABLE, out)
    return pq.read_table(out)
