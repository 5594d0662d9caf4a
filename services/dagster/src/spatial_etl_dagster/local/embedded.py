"""The local runner's embedded services: S3 on loopback, a throw-away PostGIS, a ledger in memory.

Each service is a context manager that removes what it started when the block ends, whatever
ends it (an error, Ctrl-C, a SIGTERM the command line turned into ``KeyboardInterrupt``):

- :func:`s3_server`: moto's S3 server in a child process (:mod:`.s3_process`), on 127.0.0.1
  and a port the system picks, so the objects it holds never weigh on the runner's heap; it
  starts empty and ends with the runner, even a runner killed outright.
- :func:`throwaway_postgis`: ``initdb`` a PostgreSQL cluster in a temporary directory under
  ``/tmp``, serve it on 127.0.0.1 and a free port with password authentication, create a
  database with PostGIS; afterwards stop the server and delete the directory. ``initdb``
  refuses root, so as root every PostgreSQL program runs as ``postgres`` through ``runuser``.
- the ledger, a mongomock database living in the runner, is in :mod:`.ledger` (it needs
  Dagster, which this module does not import: the services start while Dagster loads).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psycopg2

from spatial_etl_dagster.local.s3_process import S3Server, s3_server_process

DEBIAN_PG_ROOT: Final = Path("/usr/lib/postgresql")
"""Where Debian installs each PostgreSQL major version: ``<root>/<major>/bin``."""

GDAL_PROGRAMS: Final = ("gdalinfo", "ogrinfo", "ogr2ogr", "gdal_translate", "gdalwarp")
"""What every run may start: the readers, the vector loader, the COG writer, the warper."""
PG_PROGRAMS: Final = ("initdb", "pg_ctl", "postgres")
POSTGRES_USER: Final = "postgres"
DATABASE: Final = "spatial_etl"
"""The database the throw-away cluster creates (and the in-process ledger's name)."""
INITDB_TIMEOUT_S: Final = 180
PG_CTL_TIMEOUT_S: Final = 60

logger = logging.getLogger(__name__)


class CannotRun(Exception):  # noqa: N818 - a verdict, not an error of the code
    """The runner cannot start: something to install or to set is missing (exit status 2).

    ``problems`` lists every missing thing, each saying what to install or set.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


# ----------------------------------------------------------------------------- GDAL


def missing_gdal_programs(bin_dir: Path | None) -> list[str]:
    """The GDAL programs every run needs that are not found (in ``bin_dir``, else on PATH)."""
    path = str(bin_dir) if bin_dir is not None else None
    return [p for p in GDAL_PROGRAMS if not shutil.which(p, path=path)]


# ----------------------------------------------------------------------------- S3


@contextlib.contextmanager
def s3_server(log: Path) -> Iterator[S3Server]:
    """Start moto's S3 in a child process on 127.0.0.1 and a free port; stop it afterwards.

    Yields at once (``endpoint()`` waits for the port); the server's stderr goes to ``log``.
    A fresh process starts from empty buckets.
    """
    with s3_server_process(log) as server:
        yield server


# ----------------------------------------------------------------------------- PostGIS


def postgis_version(dsn: str) -> str:
    """``PostgreSQL <x> / PostGIS <y>`` of a database, or :class:`CannotRun` saying why not."""
    try:
        conn = psycopg2.connect(dsn, connect_timeout=10)
    except psycopg2.Error as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CannotRun(
            [
                f"cannot connect to SPATIAL_ETL_POSTGIS_DSN ({first}); fix it, or unset it to let "
                "the runner start a throw-away PostgreSQL cluster"
            ]
        ) from None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('server_version'), postgis_lib_version()")
            row = cur.fetchone()
    except psycopg2.Error:
        raise CannotRun(
            ["the database of SPATIAL_ETL_POSTGIS_DSN has no PostGIS: CREATE EXTENSION postgis"]
        ) from None
    finally:
        conn.close()
    assert row is not None  # noqa: S101 - a SELECT without FROM returns one row
    return f"PostgreSQL {str(row[0]).split()[0]}, PostGIS {row[1]}"


@dataclass(frozen=True)
class PostgresInstall:
    """PostgreSQL server programs with PostGIS available to them."""

    bin_dir: Path
    share_dir: Path

    def program(self, name: str) -> str:
        """Absolute path of one of the server's programs."""
        return str(self.bin_dir / name)


def find_postgres(bin_dir: Path | None) -> PostgresInstall:
    """The PostgreSQL install to start a throw-away cluster with, or :class:`CannotRun`.

    ``bin_dir`` (option ``--pg-bin-dir``) is the only place looked at when given; otherwise
    the newest ``/usr/lib/postgresql/<major>/bin`` (Debian), then ``initdb`` on PATH.
    """
    hint = (
        "install PostgreSQL and PostGIS (Debian: apt-get install postgresql "
        "postgresql-15-postgis-3, or make setup), or set SPATIAL_ETL_POSTGIS_DSN to a database "
        "with PostGIS"
    )
    candidates = [bin_dir] if bin_dir is not None else _default_bin_dirs()
    found = next(
        (d for d in candidates if all(os.access(d / p, os.X_OK) for p in PG_PROGRAMS)), None
    )
    if found is None:
        where = f"in {bin_dir}" if bin_dir is not None else "(looked in /usr/lib/postgresql, PATH)"
        raise CannotRun([f"no PostgreSQL server programs {where}: {hint}"])
    share = _share_dir(found)
    if share is None or not (share / "extension" / "postgis.control").is_file():
        raise CannotRun(
            [f"PostgreSQL in {found} has no PostGIS extension (postgis.control): {hint}"]
        )
    if os.geteuid() == 0:
        problems = []
        if shutil.which("runuser") is None:
            problems.append("running as root needs runuser (util-linux) to start PostgreSQL")
        try:
            pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            problems.append(
                "running as root needs a 'postgres' system user to own the throw-away cluster "
                "(the postgresql package creates it), or run as another user"
            )
        if problems:
            raise CannotRun(problems)
    return PostgresInstall(bin_dir=found, share_dir=share)


def _default_bin_dirs() -> list[Path]:
    debian = []
    if DEBIAN_PG_ROOT.is_dir():
        majors = [p for p in DEBIAN_PG_ROOT.iterdir() if p.name.isdigit()]
        debian = [p / "bin" for p in sorted(majors, key=lambda p: int(p.name), reverse=True)]
    on_path = shutil.which("initdb")
    return debian + ([Path(on_path).parent] if on_path else [])


def _share_dir(bin_dir: Path) -> Path | None:
    pg_config = bin_dir / "pg_config"
    if os.access(pg_config, os.X_OK):
        done = subprocess.run(
            [str(pg_config), "--sharedir"], capture_output=True, text=True, check=False, timeout=30
        )
        if done.returncode == 0 and done.stdout.strip():
            return Path(done.stdout.strip())
    debian = Path("/usr/share/postgresql") / bin_dir.parent.name  # /usr/lib/postgresql/15/bin
    return debian if debian.is_dir() else None


@contextlib.contextmanager
def throwaway_postgis(install: PostgresInstall) -> Iterator[tuple[str, Path]]:
    """Start a PostgreSQL cluster with PostGIS on loopback; yield its DSN and directory.

    The cluster lives in ``/tmp/spatial-etl-local-pg.*``; the server is stopped and the
    directory removed when the block ends, however it ends. Only a SIGKILL of this process
    leaves it behind (stop it with ``pg_ctl -D <dir>/cluster stop`` and delete the directory).
    """
    as_root = os.geteuid() == 0
    home = Path(tempfile.mkdtemp(prefix="spatial-etl-local-pg.", dir="/tmp"))
    cluster = home / "cluster"
    started = False
    try:
        password = secrets.token_hex(16)
        (home / "pwfile").write_text(password + "\n")
        if as_root:
            owner = pwd.getpwnam(POSTGRES_USER)
            for path in (home, home / "pwfile"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        _pg(
            install,
            "initdb",
            [
                "-D",
                str(cluster),
                "-U",
                "postgres",
                f"--pwfile={home / 'pwfile'}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
            ],
            timeout=INITDB_TIMEOUT_S,
        )
        port = _free_port()
        options = (
            f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        started = True  # from here on, stop it whatever happens
        _pg(
            install,
            "pg_ctl",
            [
                "-D",
                str(cluster),
                "-l",
                str(home / "postgres.log"),
                "-w",
                "-t",
                str(PG_CTL_TIMEOUT_S),
                "-o",
                options,
                "start",
            ],
            timeout=PG_CTL_TIMEOUT_S + 10,
            log=home / "postgres.log",
        )
        admin = f"postgresql://postgres:{password}@127.0.0.1:{port}"
        _create_database(f"{admin}/postgres", f"{admin}/{DATABASE}")
        yield f"{admin}/{DATABASE}", home
    finally:
        with _signals_deferred():
            if started:
                _stop(install, cluster)
            shutil.rmtree(home, ignore_errors=True)


def _pg(
    install: PostgresInstall,
    program: str,
    args: Sequence[str],
    *,
    timeout: float,
    log: Path | None = None,
) -> None:
    """Run a PostgreSQL program (as ``postgres`` under root); CannotRun with its output."""
    argv = [install.program(program), *args]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", POSTGRES_USER, "--", *argv]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout, cwd="/"
    )
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip()
        if log is not None and log.is_file():
            detail += "\n" + log.read_text(errors="replace").strip()
        raise CannotRun([f"{program} failed (exit {done.returncode}): {detail[-2000:]}"])


def _create_database(admin_dsn: str, dsn: str) -> None:
    """The run's database with PostGIS in it."""
    for target, statement in (
        (admin_dsn, f"CREATE DATABASE {DATABASE}"),
        (dsn, "CREATE EXTENSION postgis"),
    ):
        try:
            conn = psycopg2.connect(target, connect_timeout=10)
            try:
                conn.autocommit = True
                with conn.cursor() as cur:
                    cur.execute(statement)
            finally:
                conn.close()
        except psycopg2.Error as error:
            raise CannotRun(
                [f"the throw-away cluster refused {statement!r}: {error}".strip()]
            ) from None


def _stop(install: PostgresInstall, cluster: Path) -> None:
    """Stop the server at once (its data is thrown away); kill it if pg_ctl cannot."""
    try:
        _pg(
            install,
            "pg_ctl",
            ["-D", str(cluster), "-m", "immediate", "-w", "-t", "30", "stop"],
            timeout=40,
        )
    except (CannotRun, subprocess.TimeoutExpired, OSError) as error:
        pid_file = cluster / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().splitlines()[0])
            os.kill(pid, signal.SIGKILL)
        logger.warning("pg_ctl stop failed (%s); the server was killed", error)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while cleaning up, so a second Ctrl-C cannot cut it short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    watched = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda s, _f: received.append(s)) for sig in watched}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if received:
        raise KeyboardInterrupt
