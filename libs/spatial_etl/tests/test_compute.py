"""PostGIS compute: run schemas, timeouts, step errors, the janitor, GDAL's data source.

The outage tests stop and restart this worktree's own test cluster (``$PGDATA_DIR/cluster``,
started by scripts/services.sh), so they disturb no other cluster; each costs a second or two.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from psycopg2 import sql
from pydantic import SecretStr
from spatial_etl.backends.compute import DEFAULT_OWNER, PostgisCompute, schema_for_run
from spatial_etl.errors import ComputeConnectionLostError, ComputeError, SqlStepError
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
def test_unreachable_database_is_a_compute_error_after_the_retry_budget() -> None:
    engine = PostgisCompute(
        PostgisSettings(postgis_dsn=SecretStr("postgresql://u:p@127.0.0.1:1/x"), postgis_retry_s=1)
    )
    started = time.monotonic()
    with pytest.raises(ComputeError, match=r"cannot connect to PostGIS: .*refused"):
        engine.fetch(sql.SQL("SELECT 1"), step="probe")
    assert 1 <= time.monotonic() - started < 5  # retried for the budget, then given up


@pytest.mark.postgis
def test_wrong_password_is_not_retried(postgis_dsn: str) -> None:
    params = psycopg2.extensions.parse_dsn(postgis_dsn)
    params["password"] = "wrong"  # noqa: S105 - a deliberately wrong one
    dsn = psycopg2.extensions.make_dsn(**params)
    engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(dsn), postgis_retry_s=30))
    started = time.monotonic()
    with pytest.raises(ComputeError, match="password authentication failed"):
        engine.fetch(sql.SQL("SELECT 1"), step="probe")
    assert time.monotonic() - started < 5


def test_a_blackholed_server_fails_within_the_connect_timeout() -> None:
    # A listening socket that never answers: the TCP handshake succeeds, libpq then waits for
    # the server's reply, exactly as with a host whose PostgreSQL hangs or a dropped route.
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(16)
        port = hole.getsockname()[1]
        engine = PostgisCompute(
            PostgisSettings(
                postgis_dsn=SecretStr(f"postgresql://u:p@127.0.0.1:{port}/x?sslmode=disable"),
                postgis_connect_timeout_s=2,
                postgis_retry_s=0,
            )
        )
        started = time.monotonic()
        with pytest.raises(ComputeError, match=r"cannot connect to PostGIS: .*timeout expired"):
            engine.fetch(sql.SQL("SELECT 1"), step="probe")
        assert 1.5 <= time.monotonic() - started < 4


@pytest.mark.postgis
def test_refuses_to_drop_other_schemas(compute: PostgisCompute) -> None:
    with pytest.raises(ComputeError, match="not a run schema"):
        compute.drop_schema("public")


KILLED_RUN = """
import os, signal, sys
from pydantic import SecretStr
from spatial_etl.backends.compute import PostgisCompute
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
            report = compute.drop_orphans(lambda run_id: run_id == alive or run_id != dead)
            assert report.dropped == [dead_schema]
            assert report.errors == []
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


# ---------------------------------------------------------------------------- owners, labels


def _label(run_id: str, owner: str | None) -> str:
    label = {"tag": "spatial_etl", "run_id": run_id, "created_at": "2026-01-01T00:00:00+00:00"}
    if owner is not None:
        label["owner"] = owner
    return json.dumps(label)


def _make_schema(pg_conn: Any, name: str, comment: str | None) -> None:
    with pg_conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
        if comment is not None:
            cur.execute(
                sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                    sql.Identifier(name), sql.Literal(comment)
                )
            )


def _drop_quietly(dsn: str, names: list[str]) -> None:
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        for name in names:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    conn.close()


def _schemas_now(dsn: str) -> set[str]:
    """The schemas, on a fresh connection (a fixture's may have died with a restart)."""
    conn = psycopg2.connect(dsn)
    try:
        return _schemas(conn)
    finally:
        conn.close()


@pytest.mark.postgis
def test_schema_label_records_run_owner_and_creation(postgis_dsn: str) -> None:
    engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(postgis_dsn)), owner="team-a")
    run_id = f"run-{uuid.uuid4()}"
    try:
        with engine.run_schema(run_id) as schema:
            [info] = [i for i in engine.schema_inventory() if i.name == schema.name]
            assert (info.run_id, info.owner) == (run_id, "team-a")
            assert info.created_at is not None and info.created_at.tzinfo is not None
            assert (schema.name, run_id) in engine.run_schemas()
    finally:
        engine.close()


@pytest.mark.postgis
def test_create_is_safe_to_repeat_after_a_commit_the_client_never_saw(
    compute: PostgisCompute, pg_conn: Any, postgis_dsn: str
) -> None:
    run_id, other = f"run-{uuid.uuid4()}", f"run-{uuid.uuid4()}"
    name, foreign = schema_for_run(run_id), schema_for_run(other)
    _make_schema(pg_conn, name, _label(run_id, DEFAULT_OWNER))  # the lost attempt's commit
    _make_schema(pg_conn, foreign, None)  # same name as run `other`, but nobody's label
    try:
        with compute.run_schema(run_id) as schema:
            assert schema.name == name
        assert name not in _schemas(pg_conn)
        with (
            pytest.raises(ComputeError, match=f"{foreign}: it exists and is not labelled"),
            compute.run_schema(other),
        ):
            pytest.fail("the body must not run")
        assert foreign in _schemas(pg_conn)  # not ours: not dropped
    finally:
        _drop_quietly(postgis_dsn, [name, foreign])


@pytest.mark.postgis
def test_drop_orphans_respects_owner_and_liveness_and_continues_past_a_failure(
    postgis_dsn: str, pg_conn: Any
) -> None:
    settings = PostgisSettings(postgis_dsn=SecretStr(postgis_dsn), postgis_lock_timeout_s=1)
    engine = PostgisCompute(settings)
    token = uuid.uuid4().hex[:8]
    ids = {k: f"{k}-{token}" for k in ("own", "legacy", "other", "alive", "locked", "later")}
    names = {k: schema_for_run(v) for k, v in ids.items()}
    handmade = f"proc_handmade_{token}"
    _make_schema(pg_conn, names["own"], _label(ids["own"], DEFAULT_OWNER))
    _make_schema(pg_conn, names["legacy"], _label(ids["legacy"], None))  # before owners
    _make_schema(pg_conn, names["other"], _label(ids["other"], "other-platform"))
    _make_schema(pg_conn, names["alive"], _label(ids["alive"], DEFAULT_OWNER))
    _make_schema(pg_conn, names["locked"], _label(ids["locked"], DEFAULT_OWNER))
    _make_schema(pg_conn, names["later"], _label(ids["later"], DEFAULT_OWNER))
    _make_schema(pg_conn, handmade, "made by hand")
    locker = psycopg2.connect(postgis_dsn)  # holds a lock DROP ... CASCADE must wait for
    try:
        with locker.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE TABLE {}.t (x int)").format(sql.Identifier(names["locked"]))
            )
            locker.commit()
            cur.execute(
                sql.SQL("LOCK TABLE {}.t IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(names["locked"])
                )
            )
        dead = {ids[k] for k in ("own", "legacy", "other", "locked", "later")}
        report = engine.drop_orphans(lambda run_id: run_id not in dead)
        assert report.dropped == sorted(names[k] for k in ("own", "legacy", "later"))
        [error] = report.errors
        assert error.startswith(f"{names['locked']}: cannot drop schema {names['locked']}")
        assert "lock timeout" in error
        remaining = _schemas(pg_conn)
        assert {names["other"], names["alive"], names["locked"], handmade} <= remaining
        assert not {names["own"], names["legacy"], names["later"]} & remaining

        locker.rollback()  # lock released: the other owner's janitor reaps its own schema
        report = engine.drop_orphans(lambda run_id: run_id not in dead, owner="other-platform")
        assert report.dropped == [names["other"]]
        report = engine.drop_orphans(lambda run_id: run_id not in dead)
        assert report.dropped == [names["locked"]]
        assert names["alive"] in _schemas(pg_conn)
    finally:
        locker.close()
        engine.close()
        _drop_quietly(postgis_dsn, [*names.values(), handmade])


@pytest.mark.postgis
def test_drop_orphans_keeps_a_schema_whose_liveness_is_unknown(
    compute: PostgisCompute, pg_conn: Any, postgis_dsn: str
) -> None:
    run_id = f"unknown-{uuid.uuid4()}"
    name = schema_for_run(run_id)
    _make_schema(pg_conn, name, _label(run_id, DEFAULT_OWNER))

    def is_alive(candidate: str) -> bool:
        if candidate == run_id:
            raise RuntimeError("run store unreachable")
        return True

    try:
        report = compute.drop_orphans(is_alive)
        assert report.dropped == []
        assert report.errors == [
            f"{name}: cannot tell whether run {run_id} is alive: run store unreachable"
        ]
        assert name in _schemas(pg_conn)
    finally:
        _drop_quietly(postgis_dsn, [name])


@pytest.mark.postgis
def test_an_interrupted_body_still_gets_its_schema_dropped(
    compute: PostgisCompute, pg_conn: Any
) -> None:
    with pytest.raises(KeyboardInterrupt), compute.run_schema(f"run-{uuid.uuid4()}") as schema:
        raise KeyboardInterrupt
    assert schema.name not in _schemas(pg_conn)


@pytest.mark.postgis
def test_a_drop_that_fails_for_good_is_reported_even_by_a_raising_reporter(
    postgis_dsn: str, pg_conn: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A lock held elsewhere makes DROP ... CASCADE time out: not a lost connection, so no retry.
    settings = PostgisSettings(postgis_dsn=SecretStr(postgis_dsn), postgis_lock_timeout_s=1)
    engine = PostgisCompute(settings)
    locker = psycopg2.connect(postgis_dsn)
    run_id = f"run-{uuid.uuid4()}"

    def reporter(message: str) -> None:
        raise RuntimeError(f"reporter broke on: {message}")

    try:
        with engine.run_schema(run_id, on_cleanup_error=reporter) as schema:
            table = sql.Identifier(schema.name, "t")
            engine.execute(sql.SQL("CREATE TABLE {} (x int)").format(table), step="make")
            with locker.cursor() as cur:
                cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(table))
        # the body succeeded, the drop failed: nothing raised, the schema waits for the janitor
        assert schema.name in _schemas(pg_conn)
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert f"run schema {schema.name} was not dropped" in warned[0]
        assert "lock timeout" in warned[0]
        assert any(
            "on_cleanup_error failed" in r.getMessage() and r.exc_info for r in caplog.records
        )
    finally:
        locker.close()
        engine.close()
        _drop_quietly(postgis_dsn, [schema_for_run(run_id)])


# ---------------------------------------------------------------------------------- outages


class Cluster:
    """This worktree's test cluster, stopped and started the way an operator or a crash would."""

    def __init__(self, data: Path) -> None:
        self.data = data
        argv = shlex.split((data / "postmaster.opts").read_text())
        self.bin = Path(argv[0]).parent
        self.options = shlex.join(argv[3:])  # after `postgres -D <data>`
        self.log = str(data.parent / "postgres.log")  # where scripts/services.sh logs

    def _pg_ctl(self, *args: str) -> int:
        # -l sends the server's output to its log: a postmaster holding our pipe open would
        # make subprocess wait for it forever.
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(
            [*prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        return done.returncode

    def stop(self) -> None:
        # fast, not immediate: the test cluster runs with synchronous_commit=off, so a crash
        # would lose the last commits (the very schemas these tests look for afterwards)
        assert self._pg_ctl("stop", "-m", "fast", "-w") == 0

    def start(self) -> None:
        assert self._pg_ctl("start", "-w", "-l", self.log, "-o", self.options) == 0

    def restart(self) -> None:
        assert self._pg_ctl("restart", "-m", "immediate", "-w", "-l", self.log) == 0

    def running(self) -> bool:
        return self._pg_ctl("status") == 0

    def start_later(self, delay_s: float) -> threading.Thread:
        def start() -> None:
            time.sleep(delay_s)
            self.start()

        thread = threading.Thread(target=start, daemon=True)
        thread.start()
        return thread


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    data = os.environ.get("PGDATA_DIR")
    assert data, "PGDATA_DIR (scripts/services.sh) names the test cluster to restart"
    control = Cluster(Path(data) / "cluster")
    assert control.running()
    try:
        yield control
    finally:
        if not control.running():  # never leave the cluster down for the next test
            control.start()


@pytest.mark.postgis
def test_a_pooled_connection_dead_after_a_restart_is_not_used(
    compute: PostgisCompute, cluster: Cluster
) -> None:
    pid_query = sql.SQL("SELECT pg_backend_pid()")
    [(before,)] = compute.fetch(pid_query, step="pid")
    with compute.connection() as conn:
        pooled = conn
    cluster.restart()
    assert pooled.closed == 0  # psycopg2 cannot know yet: using it would fail
    [(after,)] = compute.fetch(pid_query, step="pid")
    assert after != before
    assert pooled.closed  # the probe found it dead and the pool discarded it


@pytest.mark.postgis
def test_cleanup_failure_never_replaces_the_run_outcome(
    postgis_dsn: str, cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    class BodyFailedError(Exception):
        pass

    engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(postgis_dsn), postgis_retry_s=1))
    reported: list[str] = []
    failure = BodyFailedError("the step's own error")
    run_a, run_b = f"a-{uuid.uuid4()}", f"b-{uuid.uuid4()}"
    caplog.set_level(logging.WARNING, logger="spatial_etl.backends.compute")

    def runs_whose_cleanup_fails() -> None:
        with engine.run_schema(run_a, on_cleanup_error=reported.append):
            with engine.run_schema(run_b, on_cleanup_error=reported.append):
                cluster.stop()
            # b's body succeeded and its drop failed: nothing raised, b is reported
            assert len(reported) == 1
            raise failure

    try:
        with pytest.raises(BodyFailedError) as raised:
            runs_whose_cleanup_fails()
        assert raised.value is failure  # unchanged, not a psycopg2 or compute error
        assert raised.value.__context__ is None
        assert [m.split(" was not dropped")[0] for m in reported] == [
            f"run schema {schema_for_run(run_b)}",
            f"run schema {schema_for_run(run_a)}",
        ]
        for message in reported:
            assert "cannot drop schema" in message
            assert "cannot connect to PostGIS" not in message
            assert re.search(r"refused|No such file|could not connect", message), message
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("was not dropped" in w for w in warned) == 2
        cluster.start()
        left = {schema_for_run(run_a), schema_for_run(run_b)}
        assert left <= _schemas_now(postgis_dsn)  # left for the janitor
        report = engine.drop_orphans(lambda run_id: run_id not in {run_a, run_b})
        assert set(report.dropped) == left
    finally:
        engine.close()
        if cluster.running():
            _drop_quietly(postgis_dsn, [schema_for_run(run_a), schema_for_run(run_b)])


@pytest.mark.postgis
def test_create_and_drop_are_retried_across_short_outages(
    compute: PostgisCompute, cluster: Cluster, postgis_dsn: str
) -> None:
    reported: list[str] = []
    run_id = f"run-{uuid.uuid4()}"
    cluster.stop()
    starter = cluster.start_later(1.0)
    started = time.monotonic()
    try:
        with compute.run_schema(run_id, on_cleanup_error=reported.append) as schema:
            starter.join()
            assert time.monotonic() - started >= 1.0  # it waited for the server
            assert schema.name in _schemas_now(postgis_dsn)
            cluster.stop()
            starter = cluster.start_later(1.0)
        starter.join()
        assert reported == []
        assert schema.name not in _schemas_now(postgis_dsn)
    finally:
        starter.join()
        _drop_quietly(postgis_dsn, [schema_for_run(run_id)])


@pytest.mark.postgis
def test_a_step_running_when_the_server_goes_down_fails_naming_the_step(
    compute: PostgisCompute, cluster: Cluster, postgis_dsn: str
) -> None:
    def restart_once_the_step_runs() -> None:
        watcher = psycopg2.connect(postgis_dsn)
        watcher.autocommit = True
        try:
            for _ in range(200):
                with watcher.cursor() as cur:
                    cur.execute(
                        "SELECT count(*) FROM pg_stat_activity "
                        "WHERE state = 'active' AND query LIKE 'SELECT pg_sleep(30)%'"
                    )
                    if cur.fetchone() == (1,):
                        break
                time.sleep(0.05)
        finally:
            watcher.close()
        cluster.restart()

    restarter = threading.Thread(target=restart_once_the_step_runs, daemon=True)
    restarter.start()
    started = time.monotonic()
    with pytest.raises(ComputeConnectionLostError) as raised:
        compute.execute(sql.SQL("SELECT pg_sleep(30)"), step="slow_step")
    restarter.join()
    assert time.monotonic() - started < 20  # failed when the server went, not at the timeout
    assert raised.value.step == "slow_step"
    assert str(raised.value).startswith("connection to PostGIS lost during step 'slow_step': ")
    assert re.search(r"server closed the connection|terminating connection", str(raised.value))
    assert isinstance(raised.value, SqlStepError)
    assert compute.fetch(sql.SQL("SELECT 1"), step="after") == [(1,)]
