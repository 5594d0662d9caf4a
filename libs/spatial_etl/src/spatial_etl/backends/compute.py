"""PostGIS as a transient compute engine: one throw-away schema per run, dropped whatever happens.

The "Compute Engine" pattern: spin up ``proc_<run>``, load, run SQL, export, tear down.
``run_schema`` drops the schema in ``finally``; a process killed with SIGKILL never reaches
``finally``, so each schema records its run id and owner in a comment and
:meth:`PostgisCompute.drop_orphans` removes the schemas of runs that are no longer alive.

PostGIS may restart under a run. Pooled connections are then dead without knowing it, so each
one is probed before use and discarded on any connection-level error; idempotent operations
(connecting, creating and dropping a run schema, listing them) are retried with bounded
backoff; a SQL step is not (its effect is unknown) and fails naming the step. A cleanup that
still fails is reported, never raised over the run's own error.
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
from typing import Any, Final, TypeVar

import psycopg2
import psycopg2.extensions
from psycopg2 import sql
from psycopg2.pool import ThreadedConnectionPool
from pydantic import BaseModel, ConfigDict
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_delay,
    wait_exponential_jitter,
)

from spatial_etl.errors import (
    ComputeConnectionLostError,
    ComputeError,
    ComputeUnavailableError,
    SqlStepError,
)
from spatial_etl.settings import PostgisSettings

SCHEMA_PREFIX: Final = "proc_"
DEFAULT_OWNER: Final = "spatial-etl"
_COMMENT_TAG: Final = "spatial_etl"
# SQLSTATEs of a connection that is gone or not yet usable: class 08 (connection exception),
# admin_shutdown, crash_shutdown, cannot_connect_now ("the database system is starting up").
_LOST_SQLSTATES: Final = frozenset({"57P01", "57P02", "57P03"})
# libpq connection failures carry no SQLSTATE; these ones retrying cannot fix.
_PERMANENT_CONNECT_FAILURES: Final = (
    "authentication failed",
    "password",
    "pg_hba.conf",
    "does not exist",
    "invalid connection option",
    "invalid dsn",
    "invalid sslmode",
    "certificate",
)
# TCP keepalives: a server that vanishes without closing the socket is noticed in ~2 minutes
# instead of the kernel's two hours.
_KEEPALIVES: Final = {
    "keepalives": 1,
    "keepalives_idle": 60,
    "keepalives_interval": 10,
    "keepalives_count": 6,
}
_T = TypeVar("_T")
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


class RunSchemaInfo(BaseModel):
    """A ``proc_*`` schema as its comment describes it.

    ``run_id`` is None for a schema no run made (no platform label); ``owner`` is None for a
    schema labelled before owners were recorded (the janitor treats it as ``DEFAULT_OWNER``).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    run_id: str | None
    owner: str | None
    created_at: datetime | None


class OrphanReport(BaseModel):
    """What :meth:`PostgisCompute.drop_orphans` did: schemas dropped, and one line per failure."""

    model_config = ConfigDict(frozen=True)

    dropped: list[str]
    errors: list[str]


class PostgisCompute:
    """Connections to the compute database and the lifecycle of run schemas.

    ``owner`` labels the schemas this instance creates; :meth:`drop_orphans` only drops schemas
    of its own owner, so two deployments sharing a database never reap each other's runs.
    """

    def __init__(self, settings: PostgisSettings, *, owner: str = DEFAULT_OWNER) -> None:
        if not owner:
            raise ValueError("owner is empty")
        self.settings = settings
        self.owner = owner
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
                # minconn=0 so that building the pool connects nothing (and cannot fail during
                # an outage); raised afterwards because psycopg2's pool closes a returned
                # connection whenever it already keeps minconn idle ones.
                size = self.settings.postgis_pool_size
                pool = ThreadedConnectionPool(
                    0,
                    size,
                    dsn=self.settings.postgis_dsn.get_secret_value(),
                    options=self._options,
                    application_name="spatial-etl",
                    connect_timeout=self.settings.postgis_connect_timeout_s,
                    **_KEEPALIVES,
                )
                pool.minconn = size
                self._pool = pool
            return self._pool

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            if self._pool is not None:
                self._pool.closeall()
                self._pool = None

    def _retrying(self, what: str) -> Retrying:
        """Bounded retries of an idempotent operation while the failure is a lost connection."""

        def log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            logger.warning(
                "PostGIS unavailable while trying to %s (attempt %d): %s; retrying",
                what,
                state.attempt_number,
                _pg_message(error) if isinstance(error, psycopg2.Error) else error,
            )

        return Retrying(
            retry=retry_if_exception(_is_transient),
            stop=stop_after_delay(self.settings.postgis_retry_s),
            wait=wait_exponential_jitter(multiplier=0.2, max=5, jitter=0.2),
            before_sleep=log_retry,
            reraise=True,
        )

    def _checkout(self, pool: ThreadedConnectionPool) -> psycopg2.extensions.connection:
        """A pooled connection that answered a probe just now, in autocommit mode.

        A connection whose server restarted still says ``closed == 0`` until it is used, so
        every checkout sends ``SELECT 1`` (one round trip, ~0.1 ms on loopback: cheap next to
        any step) and discards what fails. Once every pooled connection is discarded the pool
        opens a fresh one, whose failure (server still down) is the caller's to retry.
        """
        for _ in range(self.settings.postgis_pool_size + 1):
            conn = pool.getconn()
            if _usable(conn):
                return conn
            pool.putconn(conn, close=True)
        conn = pool.getconn()  # every pooled one was dead: this one is brand new
        if not _usable(conn):
            pool.putconn(conn, close=True)
            raise psycopg2.OperationalError("a fresh connection to PostGIS failed its probe")
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg2.extensions.connection]:
        """A live pooled connection in autocommit mode; a broken one is discarded, not returned.

        Checking out is retried across an outage (``SPATIAL_ETL_POSTGIS_RETRY_S``); what the
        caller does with the connection is not. A connection-level error (``OperationalError``,
        ``InterfaceError``) raised by the caller closes the connection instead of pooling it.
        """
        try:
            pool = self._get_pool()
            conn = self._retrying("connect")(self._checkout, pool)
        except psycopg2.Error as error:
            kind = ComputeUnavailableError if _is_transient(error) else ComputeError
            raise kind(f"cannot connect to PostGIS: {_pg_message(error)}") from None
        broken = False
        try:
            yield conn
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            broken = True
            raise
        finally:
            pool.putconn(conn, close=broken or not _reset(conn))

    def _idempotent(
        self, what: str, operation: Callable[[psycopg2.extensions.connection], _T]
    ) -> _T:
        """Run ``operation`` on a live connection, again on a fresh one if the connection dies.

        Only for operations whose repetition is harmless; raises the last ``psycopg2.Error``.
        """
        pool = self._get_pool()

        def attempt() -> _T:
            conn = self._checkout(pool)
            broken = False
            try:
                return operation(conn)
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                broken = True
                raise
            finally:
                pool.putconn(conn, close=broken or not _reset(conn))

        return self._retrying(what)(attempt)

    @contextmanager
    def run_schema(
        self, run_id: str, *, on_cleanup_error: Callable[[str], None] | None = None
    ) -> Iterator[RunSchema]:
        """Create the run's schema, yield it, and try to drop it with CASCADE whatever happens.

        The drop is retried like any idempotent operation. If it still fails, the failure is
        logged and given to ``on_cleanup_error`` and nothing is raised: the body's own
        exception (interrupts included) propagates unchanged, and after a successful body the
        schema is left for :meth:`drop_orphans`.
        """
        schema = RunSchema(name=schema_for_run(run_id), run_id=run_id)
        comment = json.dumps(
            {
                "tag": _COMMENT_TAG,
                "run_id": run_id,
                "owner": self.owner,
                "created_at": datetime.now(UTC).isoformat(),
            }
        )

        def create(conn: psycopg2.extensions.connection) -> bool:
            # One transaction: never an unlabelled schema. Repeating it after a lost COMMIT
            # finds the schema labelled with this run and accepts it.
            with conn.cursor() as cur:
                cur.execute("BEGIN")
                cur.execute(
                    "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                    "WHERE nspname = %s",
                    (schema.name,),
                )
                row = cur.fetchone()
                if row is not None:
                    cur.execute("ROLLBACK")
                    info = _info_of(schema.name, row[0])
                    if info.run_id == run_id:
                        return False
                    raise ComputeError(
                        f"cannot create schema {schema.name}: it exists and is not labelled "
                        f"with run {run_id!r}"
                    )
                cur.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema.name)))
                cur.execute(
                    sql.SQL("COMMENT ON SCHEMA {} IS {}").format(
                        sql.Identifier(schema.name), sql.Literal(comment)
                    )
                )
                cur.execute("COMMIT")
                return True

        try:
            created = self._idempotent(f"create schema {schema.name}", create)
        except psycopg2.Error as error:
            raise ComputeError(
                f"cannot create schema {schema.name}: {_pg_message(error)}"
            ) from None
        if created:
            logger.info("created schema %s for run %s", schema.name, run_id)
        else:
            logger.info(
                "schema %s of run %s already existed (a retried create)", schema.name, run_id
            )
        try:
            yield schema
        finally:
            self._drop_after_run(schema.name, on_cleanup_error)

    def _drop_after_run(self, name: str, on_cleanup_error: Callable[[str], None] | None) -> None:
        try:
            self.drop_schema(name)
        except Exception as error:  # noqa: BLE001 - cleanup must never replace the run's outcome
            message = f"run schema {name} was not dropped (left for the janitor): {error}"
            logger.warning("%s", message)
            if on_cleanup_error is not None:
                try:
                    on_cleanup_error(message)
                except Exception:  # a failing reporter must not mask the run
                    logger.exception("on_cleanup_error failed for schema %s", name)

    def drop_schema(self, name: str) -> None:
        """Drop a run schema and everything in it (idempotent, retried across an outage)."""
        if not name.startswith(SCHEMA_PREFIX):
            raise ComputeError(f"refusing to drop {name!r}: not a run schema")

        def drop(conn: psycopg2.extensions.connection) -> None:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name))
                )

        try:
            self._idempotent(f"drop schema {name}", drop)
        except psycopg2.Error as error:
            raise ComputeError(f"cannot drop schema {name}: {_pg_message(error)}") from None
        logger.info("dropped schema %s", name)

    def execute(self, statement: sql.Composable, *, step: str) -> None:
        """Run one statement in its own transaction; errors name the step. Never retried."""
        self._run(statement, step=step, fetch=False)

    def fetch(
        self, statement: sql.Composable, *, step: str, limit: int = 1000
    ) -> list[tuple[Any, ...]]:
        """Run a query and return at most ``limit`` rows. Never retried."""
        return self._run(statement, step=step, fetch=True, limit=limit)

    def _run(
        self, statement: sql.Composable, *, step: str, fetch: bool, limit: int = 1000
    ) -> list[tuple[Any, ...]]:
        with self.connection() as conn:
            try:
                conn.autocommit = False
                with conn.cursor() as cur:
                    cur.execute(statement)
                    rows = list(cur.fetchmany(limit)) if fetch else []
                conn.commit()
                return rows
            except psycopg2.Error as error:
                message = _pg_message(error)
                lost = bool(conn.closed) or _is_transient(error)
                if isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError):
                    conn.close()  # released as broken: never pooled again
                if lost:
                    raise ComputeConnectionLostError(step, message) from None
                raise SqlStepError(step, message) from None

    def gdal_source(self) -> tuple[str, dict[str, str]]:
        """GDAL's ``PG:`` data source (no password) and the environment that completes it.

        The password travels in ``PGPASSWORD`` so it never appears in a command line, a log or
        an error; ``PGOPTIONS`` gives ogr2ogr's session the same timeouts as ours, and
        ``PGCONNECT_TIMEOUT`` the same bound on connecting.
        """
        params = psycopg2.extensions.parse_dsn(self.settings.postgis_dsn.get_secret_value())
        password = params.pop("password", "")
        keys = ("host", "port", "dbname", "user", "sslmode", "sslrootcert")
        parts = [f"{key}={_conninfo_quote(params[key])}" for key in keys if params.get(key)]
        env = {
            "PGOPTIONS": self._options,
            "PGCONNECT_TIMEOUT": str(self.settings.postgis_connect_timeout_s),
        }
        if password:
            env["PGPASSWORD"] = password
        return "PG:" + " ".join(parts), env

    def schema_inventory(self) -> list[RunSchemaInfo]:
        """Every ``proc_*`` schema with what its label says (retried across an outage)."""
        query = sql.SQL(
            "SELECT nspname, obj_description(oid, 'pg_namespace') FROM pg_namespace "
            "WHERE nspname LIKE {} ORDER BY nspname"
        ).format(sql.Literal(SCHEMA_PREFIX.replace("_", r"\_") + "%"))

        def list_schemas(conn: psycopg2.extensions.connection) -> list[tuple[str, str | None]]:
            with conn.cursor() as cur:
                cur.execute(query)
                return [(name, comment) for name, comment in cur.fetchall()]

        try:
            rows = self._idempotent("list run schemas", list_schemas)
        except psycopg2.Error as error:
            raise ComputeError(f"cannot list run schemas: {_pg_message(error)}") from None
        return [_info_of(name, comment) for name, comment in rows]

    def run_schemas(self) -> list[tuple[str, str | None]]:
        """Every ``proc_*`` schema with the run id its comment records (None: not ours)."""
        return [(info.name, info.run_id) for info in self.schema_inventory()]

    def drop_orphans(
        self, is_alive: Callable[[str], bool], *, owner: str | None = None
    ) -> OrphanReport:
        """Drop the schemas of ``owner`` (default: this compute's) whose run is not alive.

        Liveness is the caller's answer from the run's status, never the schema's age: a long
        run keeps its schema. Unlabelled schemas are left alone (no run made them); a label
        without owner predates owners and counts as ``DEFAULT_OWNER``. A schema that cannot be
        dropped, or whose run's liveness cannot be told, is listed in ``errors`` and the others
        are still processed.
        """
        wanted = owner if owner is not None else self.owner
        dropped: list[str] = []
        errors: list[str] = []
        for info in self.schema_inventory():
            if info.run_id is None or (info.owner or DEFAULT_OWNER) != wanted:
                continue
            try:
                alive = is_alive(info.run_id)
            except Exception as error:  # noqa: BLE001 - unknown liveness: keep, report, go on
                errors.append(
                    f"{info.name}: cannot tell whether run {info.run_id} is alive: {error}"
                )
                continue
            if alive:
                continue
            try:
                self.drop_schema(info.name)
            except ComputeError as error:
                logger.warning("janitor: %s", error)
                errors.append(f"{info.name}: {error}")
            else:
                dropped.append(info.name)
        return OrphanReport(dropped=dropped, errors=errors)


def _usable(conn: psycopg2.extensions.connection) -> bool:
    """Whether a pooled connection is alive and idle; leaves it in autocommit mode."""
    if conn.closed:
        return False
    if conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
        return False
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    except psycopg2.Error:
        return False
    return True


def _reset(conn: psycopg2.extensions.connection) -> bool:
    """Put a connection back in idle autocommit mode; False if it must be discarded instead."""
    if conn.closed:
        return False
    try:
        if conn.get_transaction_status() != psycopg2.extensions.TRANSACTION_STATUS_IDLE:
            conn.rollback()
        conn.autocommit = True
    except psycopg2.Error:
        return False
    return conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_IDLE


def _is_transient(error: BaseException) -> bool:
    """Whether ``error`` means the connection is gone or not yet possible (worth a retry)."""
    if isinstance(error, psycopg2.InterfaceError):
        return True  # "connection already closed"
    if not isinstance(error, psycopg2.OperationalError):
        return False
    code = error.pgcode
    if code is not None:
        return code.startswith("08") or code in _LOST_SQLSTATES
    text = str(error).lower()  # libpq's own failures: refused, reset, timeout, starting up...
    return not any(marker in text for marker in _PERMANENT_CONNECT_FAILURES)


def _info_of(name: str, comment: str | None) -> RunSchemaInfo:
    try:
        label = json.loads(comment or "")
    except ValueError:
        label = None
    if not isinstance(label, dict) or label.get("tag") != _COMMENT_TAG:
        return RunSchemaInfo(name=name, run_id=None, owner=None, created_at=None)
    run_id, owner, created = label.get("run_id"), label.get("owner"), label.get("created_at")
    try:
        created_at = datetime.fromisoformat(created) if isinstance(created, str) else None
    except ValueError:
        created_at = None
    return RunSchemaInfo(
        name=name,
        run_id=run_id if isinstance(run_id, str) and run_id else None,
        owner=owner if isinstance(owner, str) and owner else None,
        created_at=created_at,
    )


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
