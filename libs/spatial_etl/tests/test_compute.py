"""PostGIS compute: run schemas, timeouts, step errors, the janitor, GDAL's data source."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from psycopg2 import sql
from pydantic import SecretStr
from spatial_etl.compute import PostgisCompute, schema_for_run
from spatial_etl.errors import ComputeError, SqlStepError
from spatial_etl.settings import PostgisSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@pytest.mark.parametrize(
    "run_id",
    [
        "0f2c4e1a-5b6d-4c8e-9a7b-3d2e1f0a9b8c",
        "Run ID/../x; DROP SCHEMA public",
        "ÄÖÜ-日本",
        "x" * 500,
        "---",
    ],
)
def test_schema_name_is_a_valid_deterministic_identifier(run_id: str) -> None:
    name = schema_for_run(run_id)
    assert IDENTIFIER.match(name), name
    assert name.startswith("proc_")
    assert schema_for_run(run_id) == name


def test_schema_names_differ_for_ids_that_slug_alike() -> None:
    assert schema_for_run("run/1") != schema_for_run("run-1")
    with pytest.raises(ValueError, match="empty"):
        schema_for_run("")


@pytest.fixture
def compute(postgis_dsn: str) -> Iterator[PostgisCompute]:
    engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(postgis_dsn)))
    yield engine
    engine.close()


def _schemas(pg_conn: Any) -> set[str]:
    with pg_conn.cursor() as cur:
        cur.execute("SELECT nspname FROM pg_namespace")
        return {name for (name,) in cur.fetchall()}


@pytest.mark.postgis
def test_run_schema_exists_inside_and_is_dropped_after(
    compute: PostgisCompute, pg_conn: Any
) -> None:
    run_id = f"run-{uuid.uuid4()}"
    with compute.run_schema(run_id) as schema:
        assert schema.name in _schemas(pg_conn)
        compute.execute(
            sql.SQL("CREATE TABLE {}.t AS SELECT 1 AS x").format(sql.Identifier(schema.name)),
            step="make",
        )
        assert compute.run_schemas().count((schema.name, run_id)) == 1
    assert schema.name not in _schemas(pg_conn)


@pytest.mark.postgis
def test_run_schema_is_dropped_when_the_body_fails(compute: PostgisCompute, pg_conn: Any) -> None:
    with pytest.raises(SqlStepError) as raised, compute.run_schema(f"run-{uuid.uuid4()}") as schema:
        compute.execute(sql.SQL("SELECT * FROM no_such_table"), step="bad_sql")
    assert raised.value.step == "bad_sql"
    assert 'relation "no_such_table" does not exist' in str(raised.value)
    assert schema.name not in _schemas(pg_conn)


@pytest.mark.postgis
def test_statement_timeout_applies(postgis_dsn: str) -> None:
    settings = PostgisSettings(postgis_dsn=SecretStr(postgis_dsn), postgis_statement_timeout_s=1)
    engine = PostgisCompute(settings)
    try:
        with pytest.raises(SqlStepError, match="canceling statement due to statement timeout"):
            engine.execute(sql.SQL("SELECT pg_sleep(3)"), step="slow")
        [(value,)] = engine.fetch(sql.SQL("SHOW lock_timeout"), step="show")
        assert value == "30s"
    finally:
        engine.close()


@pytest.mark.postgis
def test_unreachable_database_is_a_compute_error() -> None:
    engine = PostgisCompute(
        PostgisSettings(postgis_dsn=SecretStr("postgresql://u:p@127.0.0.1:1/x"))
    )
    with pytest.raises(ComputeError, match="cannot connect to PostGIS"):
        engine.fetch(sql.SQL("SELECT 1"), step="probe")


@pytest.mark.postgis
def test_refuses_to_drop_other_schemas(compute: PostgisCompute) -> None:
    with pytest.raises(ComputeError, match="not a run schema"):
        compute.drop_schema("public")


KILLED_RUN = """
import os, signal, sys
from pydantic import SecretStr
from spatial_etl.compute import PostgisCompute
from spatial_etl.settings import PostgisSettings

engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(sys.argv[1])))
with engine.run_schema(sys.argv[2]) as schema:
    print(schema.name, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no finally, no atexit: the schema stays behind
"""


@pytest.mark.postgis
def test_janitor_drops_schemas_of_dead_runs_and_keeps_live_ones(
    compute: PostgisCompute, postgis_dsn: str, pg_conn: Any, tmp_path: Path
) -> None:
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILLED_RUN))
    dead, alive = f"dead-{uuid.uuid4()}", f"alive-{uuid.uuid4()}"
    done = subprocess.run(
        [sys.executable, str(script), postgis_dsn, dead],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL
    dead_schema = done.stdout.strip()
    assert dead_schema in _schemas(pg_conn)
    with pg_conn.cursor() as cur:  # a proc_ schema that no run made: never touched
        cur.execute("CREATE SCHEMA IF NOT EXISTS proc_handmade")
    try:
        with compute.run_schema(alive) as live:
            dropped = compute.drop_orphans(lambda run_id: run_id == alive)
            assert dead_schema in dropped
            assert live.name not in dropped
            remaining = _schemas(pg_conn)
            assert dead_schema not in remaining
            assert live.name in remaining
            assert "proc_handmade" in remaining
    finally:
        with pg_conn.cursor() as cur:
            cur.execute("DROP SCHEMA IF EXISTS proc_handmade")


@pytest.mark.postgis
@pytest.mark.gdal
def test_gdal_source_loads_with_ogr2ogr_without_a_password_in_argv(
    compute: PostgisCompute, pg_conn: Any, tmp_path: Path
) -> None:
    source, env = compute.gdal_source()
    assert "password" not in source
    assert env["PGPASSWORD"]
    assert "statement_timeout=3600000" in env["PGOPTIONS"]
    geojson = tmp_path / "a.geojson"
    geojson.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"n":1},'
        '"geometry":{"type":"Point","coordinates":[1,2]}}]}'
    )
    with compute.run_schema(f"run-{uuid.uuid4()}") as schema:
        SubprocessGdalRunner().run(
            [
                "ogr2ogr",
                "-f",
                "PostgreSQL",
                source,
                str(geojson),
                "-nln",
                "pts",
                "-lco",
                f"SCHEMA={schema.name}",
            ],
            env={**os.environ, **env},
        )
        rows = compute.fetch(
            sql.SQL("SELECT n, ST_AsText(wkb_geometry) FROM {}.pts").format(
                sql.Identifier(schema.name)
            ),
            step="read",
        )
        assert rows == [(1, "POINT(1 2)")]
