"""PostGIS as a transient compute engine: one throw-away schema per run, dropped whatever happens.

The seed's "Compute Engine" pattern: spin up ``proc_<run>``, load, run SQL, export, tear down.
``run_schema`` drops the schema in ``finally``; a process killed with SIGKILL never reaches
``finally``, so each schema records its run id in a comment and :meth:`PostgisCompute.drop_orphans`
removes the schemas of runs that are no longer alive.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.pool import ThreadedConnectionPool
from pydantic import BaseModel, ConfigDict

from spatial_etl.errors import ComputeError, SqlStepError
from spatial_etl.settings import PostgisSettings

SCHEMA_PREFIX: Final = "proc_"
_COMMENT_TAG: Final = "spatial_etl"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")

logger = logging.getLogger(__name__)


def schema_for_run(run_id: str) -> str:
    """The run's schema name: ``proc_<slug>_<hash>``, a valid identifier for any run id.

    The slug keeps the name recognisable in listings; the hash keeps it unique and
    deterministic (two ids that slug alike still differ), and the whole stays within
    PostgreSQL's 63-byte identifier limit.
    """
    if not run_id:
        raise ValueError("run_id is empty")
    slug = _NOT_SLUG.sub("_", run_id.lower()).strip("_")[:36]
    digest = hashlib.sha256(run_id.encode()).hexdigest()[:12]
    return f"{SCHEMA_PREFIX}{slug}_{digest}" if slug else f"{SCHEMA_PREFIX}{digest}"


class RunSchema(BaseModel):
    """A run's schema, while it exists."""

    model_config = ConfigDict(frozen=True)

    name: str
    run_id: str


class PostgisCompute:
    """Connections to the compute database and the lifecycle of run schemas."""

    def __init__(self, settings: PostgisSettings) -> None:
        self.settings = settings
        self._pool: ThreadedConnectionPool | None = None
        self._lock = threading.Lock()

    @property
    def _options(self) -> str:
        statement = self.settings.postgis_statement_timeout_s * 1000
        lock = self.settings.postgis_lock_timeout_s * 1000
        return f"-c statement_timeout={statement} -c lock_timeout={lock}"

    def _get_pool(self) -> ThreadedConnectionPool:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadedConnectionPool(
                    1,
                    self.settings.postgis_pool_size,
                    dsn=self.settings.postgis_dsn.get_secret_value(),
                    options=self._options,
                    application_name="spatial-etl",
                )
            return self._pool

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A pooled connection in autocommit mode; a broken one is discarded, not returned."""
        try:
            pool = self._get_pool()
            conn = pool.getconn()
        except psycopg2.Error as error:
            raise ComputeError(f"cannot connect to PostGIS: {_pg_message(error)}") from None
        conn.autocommit = True
        try:
            yield conn
        finally:
            pool.putconn(conn, close=bool(conn.closed))

    @contextmanager
    def run_schema(self, run_id: str) -> Iterator[RunSchema]:
        """Create the run's schema, yield it, and drop it with CASCADE whatever happens."""
        schema = RunSchema(name=schema_for_run(run_id), run_id=run_id)
        comment = json.dumps(
            {"tag": _COMMENT_TAG, "run_id": run_id, "created_at": datetime.now(UTC).isoformat()}
        )
        with self.connection() as conn, conn.cursor() as cur:
            try:
                cur.execute("BEGIN")  # create and comment together: never an unlabelled schema
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema.name)))
                cur.execute(
                    sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                        sql.Identifier(schema.name), sql.Literal(comment)
                    )
                )
                cur.execute("COMMIT")
            except psycopg2.Error as error:
                cur.execute("ROLLBACK")
                raise ComputeError(
                    f"cannot create schema {schema.name}: {_pg_message(error)}"
                ) from None
        logger.info("created schema %s for run %s", schema.name, run_id)
        try:
            yield schema
        finally:
            self.drop_schema(schema.name)

    def drop_schema(self, name: str) -> None:
        """Drop a run schema and everything in it (idempotent)."""
        if not name.startswith(SCHEMA_PREFIX):
            raise ComputeError(f"refusing to drop {name!r}: not a run schema")
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
        logger.info("dropped schema %s", name)

    def execute(self, statement: sql.Composable, *, step: str) -> None:
        """Run one statement in its own transaction; errors name the step."""
        self._run(statement, step=step, fetch=False)

    def fetch(
        self, statement: sql.Composable, *, step: str, limit: int = 1000
    ) -> list[tuple[Any, ...]]:
        """Run a query and return at most ``limit`` rows."""
        return self._run(statement, step=step, fetch=True, limit=limit)

    def _run(
        self, statement: sql.Composable, *, step: str, fetch: bool, limit: int = 1000
    ) -> list[tuple[Any, ...]]:
        with self.connection() as conn:
            conn.autocommit = False
            try:
                with conn, conn.cursor() as cur:  # commit on success, roll back on error
                    cur.execute(statement)
                    return list(cur.fetchmany(limit)) if fetch else []
            except psycopg2.Error as error:
                raise SqlStepError(step, _pg_message(error)) from None
            finally:
                conn.autocommit = True

    def gdal_source(self) -> tuple[str, dict[str, str]]:
        """GDAL's ``PG:`` data source (no password) and the environment that completes it.

        The password travels in ``PGPASSWORD`` so it never appears in a command line, a log or
        an error; ``PGOPTIONS`` gives ogr2ogr's session the same timeouts as ours.
        """
        params = psycopg2.extensions.parse_dsn(self.settings.postgis_dsn.get_secret_value())
        password = params.pop("password", "")
        keys = ("host", "port", "dbname", "user", "sslmode", "sslrootcert")
        parts = [f"{key}={_conninfo_quote(params[key])}" for key in keys if params.get(key)]
        env = {"PGOPTIONS": self._options}
        if password:
            env["PGPASSWORD"] = password
        return "PG:" + " ".join(parts), env

    def run_schemas(self) -> list[tuple[str, str | None]]:
        """Every ``proc_*`` schema with the run id its comment records (None: not ours)."""
        query = sql.SQL(
            "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace "
            "WHERE nspname LIKE {} ORDER BY nspname"
        ).format(sql.Literal(SCHEMA_PREFIX.replace("_", r"\_") + "%"))
        rows = self.fetch(query, step="janitor", limit=100_000)
        return [(name, _run_id_of(comment)) for name, comment in rows]

    def drop_orphans(self, is_alive: Callable[[str], bool]) -> list[str]:
        """Drop the schemas whose run is not alive; return their names.

        Schemas without the platform's comment are left alone: they were not made by a run.
        """
        dropped: list[str] = []
        for name, run_id in self.run_schemas():
            if run_id is None or is_alive(run_id):
                continue
            self.drop_schema(name)
            dropped.append(name)
        return dropped


def _run_id_of(comment: str | None) -> str | None:
    try:
        label = json.loads(comment or "")
    except ValueError:
        return None
    if isinstance(label, dict) and label.get("tag") == _COMMENT_TAG:
        run_id = label.get("run_id")
        return run_id if isinstance(run_id, str) else None
    return None


def _conninfo_quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_message(error: psycopg2.Error) -> str:
    """PostgreSQL's own message, with its detail and hint, without psycopg2's noise."""
    diag = getattr(error, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(error).strip().splitlines()[0]
    extras = [getattr(diag, "message_detail", None), getattr(diag, "message_hint", None)]
    return " ".join([primary, *(e for e in extras if e)])
