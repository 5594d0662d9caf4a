"""The ``rewrite`` step kind against a real PostGIS: the copy, the swap, and failures.

The plugin tests compare its output with an ALTER TABLE's on real data; these pin what the
kind promises of any table: columns in place, NOT NULLs and the primary key kept, logged or
unlogged as before, and on failure the table exactly as it was with no copy left behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg2 import sql
from pydantic import SecretStr, ValidationError
from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.errors import SqlStepError
from spatial_etl.plugins.kinds import step_kinds
from spatial_etl.settings import PostgisSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.steps.kind import PlanContext, StepContext
from spatial_etl.steps.rewrite import PlannedRewrite, RewriteKind, RewriteStep

TABLE = "input_0"


@pytest.fixture
def compute(postgis_dsn: str) -> Iterator[PostgisCompute]:
    engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(postgis_dsn)))
    yield engine
    engine.close()


def _table(pg_conn: Any, schema: str, *, unlogged: bool) -> None:
    with pg_conn.cursor() as cur:
        cur.execute(
            sql.SQL(
                "CREATE {}TABLE {} (etl_fid serial PRIMARY KEY, "
                "code text NOT NULL, note varchar(20), geom geometry)"
            ).format(sql.SQL("UNLOGGED " if unlogged else ""), sql.Identifier(schema, TABLE))
        )
        cur.execute(
            sql.SQL(
                "INSERT INTO {} (code, note, geom) SELECT "
                "'c' || i, CASE WHEN i % 2 = 0 THEN 'even' END, "
                "ST_SetSRID(ST_MakePoint(500000 + i, 5500000 + i), 32633) "
                "FROM generate_series(1, 500) AS i"
            ).format(sql.Identifier(schema, TABLE))
        )


def _rows(pg_conn: Any, schema: str, geometry: str) -> list[tuple[Any, ...]]:
    """Every row, ``geometry`` (an expression of ``geom``) as WKT, in fid order."""
    with pg_conn.cursor() as cur:
        cur.execute(
            sql.SQL("SELECT etl_fid, code, note, ST_AsText({}) FROM {} ORDER BY etl_fid").format(
                sql.SQL(geometry), sql.Identifier(schema, TABLE)
            )
        )
        return list(cur.fetchall())


def _planned(schema: str, using: str, *, column: str = "geom") -> PlannedRewrite:
    step = RewriteStep(
        name="normalise",
        description="to WGS84",
        column=column,
        type="geometry(Point, 4326)",
        using=using,
    )
    context = PlanContext(
        text={"schema": schema, "table": TABLE}, parameters={}, workdir=Path("."), index=0
    )
    return RewriteKind().plan(step, context)


def _run(planned: PlannedRewrite, compute: PostgisCompute) -> None:
    context = StepContext(runner=SubprocessGdalRunner(), compute=compute, source="in.gpkg")
    step_kinds().for_step(planned).execute(planned, context)


def _shape(pg_conn: Any, schema: str) -> list[tuple[Any, ...]]:
    """Each column with its type and NOT NULL, the primary key, the persistence; other tables."""
    with pg_conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull "
            "FROM pg_attribute a WHERE a.attrelid = %s::regclass AND a.attnum > 0 "
            "AND NOT a.attisdropped ORDER BY a.attnum",
            (f'"{schema}".{TABLE}',),
        )
        columns = cur.fetchall()
        cur.execute(
            "SELECT c.relname, c.relpersistence, "
            "(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "WHERE k.conrelid = c.oid AND k.contype = 'p') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.relname",
            (schema,),
        )
        return [*columns, *cur.fetchall()]


@pytest.mark.postgis
@pytest.mark.parametrize("unlogged", [True, False])
def test_the_column_is_rewritten_in_place_keeping_keys_and_not_nulls(
    pg_conn: Any, scratch_schema: str, compute: PostgisCompute, unlogged: bool
) -> None:
    _table(pg_conn, scratch_schema, unlogged=unlogged)
    expected = _rows(pg_conn, scratch_schema, "ST_Transform(geom, 4326)")

    _run(_planned(scratch_schema, "ST_Transform(geom, 4326)"), compute)

    assert _shape(pg_conn, scratch_schema) == [
        ("etl_fid", "integer", True),
        ("code", "text", True),
        ("note", "character varying(20)", False),
        ("geom", "geometry(Point,4326)", False),
        (TABLE, "u" if unlogged else "p", "PRIMARY KEY (etl_fid)"),
    ]
    rows = _rows(pg_conn, scratch_schema, "geom")
    assert rows == expected  # every value, in every row, as ST_Transform gives it
    assert len(rows) == 500
    assert rows[1][:3] == (2, "c2", "even")


@pytest.mark.postgis
def test_a_failing_expression_leaves_the_table_as_it_was_and_no_copy(
    pg_conn: Any, scratch_schema: str, compute: PostgisCompute
) -> None:
    _table(pg_conn, scratch_schema, unlogged=True)
    before = _shape(pg_conn, scratch_schema)
    failing = (
        "CASE WHEN etl_fid = 400 THEN ST_Transform(geom, 999999) ELSE ST_Transform(geom, 4326) END"
    )

    with pytest.raises(SqlStepError, match=r"normalise.*999999"):
        _run(_planned(scratch_schema, failing), compute)

    assert _shape(pg_conn, scratch_schema) == before  # the old type, no input_0_rewrite


@pytest.mark.postgis
def test_a_missing_column_is_named(
    pg_conn: Any, scratch_schema: str, compute: PostgisCompute
) -> None:
    _table(pg_conn, scratch_schema, unlogged=True)
    planned = _planned(scratch_schema, "shape", column="shape")

    with pytest.raises(SqlStepError, match=rf"{scratch_schema}\.input_0 has no column 'shape'"):
        _run(planned, compute)


def test_the_declared_type_must_be_a_type_name() -> None:
    for bad in ("geometry; DROP TABLE x", "text)--", ""):
        with pytest.raises(ValidationError, match="type"):
            RewriteStep(name="n", description="d", type=bad, using="geom")
    assert RewriteStep(name="n", description="d", type="numeric(10, 2)", using="x").column == "geom"


def test_describe_shows_the_alter_table_it_stands_for() -> None:
    step = RewriteStep(name="n", description="d", type="geometry(Point, 4326)", using="g")
    assert (
        RewriteKind()
        .describe(step)
        .startswith(
            "ALTER TABLE {schema}.{table} ALTER COLUMN geom TYPE geometry(Point, 4326) USING g\n"
        )
    )
