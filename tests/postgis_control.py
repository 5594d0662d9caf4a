"""Stop and restart the test PostGIS cluster that ``scripts/services.sh`` started.

The cluster lives in ``$PGDATA_DIR/cluster`` (``PGDATA_DIR`` comes from ``.run/services.env``).
It belongs to ``postgres`` when the services were started as root, so as root every program
runs through ``runuser -u postgres --``; as the cluster's owner it runs directly. A restart
reuses the options of the last start, read from ``postmaster.opts`` (port, socket directory,
``listen_addresses``...), so the DSN the tests hold stays valid.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

StopMode = Literal["smart", "fast", "immediate"]


def data_dir() -> Path:
    """``$PGDATA_DIR``: the cluster directory's parent (log and socket live there too)."""
    value = os.environ.get("PGDATA_DIR")
    if not value:
        raise RuntimeError("PGDATA_DIR is not set: source .run/services.env (scripts/services.sh)")
    return Path(value)


def _pg_bin() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise RuntimeError("no PostgreSQL installation under /usr/lib/postgresql")
    return found[-1].parent


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _pg_ctl(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    cluster = data_dir() / "cluster"
    argv = _as_postgres([str(_pg_bin() / "pg_ctl"), "-D", str(cluster), *args])
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)


def postgis_running() -> bool:
    """Whether the cluster's postmaster runs (``pg_ctl status``)."""
    return _pg_ctl("status").returncode == 0


def stop_postgis(mode: StopMode = "immediate") -> None:
    """Stop the cluster (``immediate``: a crash, no checkpoint); wait until it is down."""
    done = _pg_ctl("-m", mode, "-w", "-t", "60", "stop")
    if done.returncode != 0 and postgis_running():
        raise RuntimeError(f"pg_ctl stop failed: {done.stdout}{done.stderr}")


def _start_options() -> str:
    """The postmaster's options of the last start, without the binary and ``-D``."""
    opts = (data_dir() / "cluster" / "postmaster.opts").read_text()
    words = shlex.split(opts)[1:]
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word == "-D":
            skip = True
            continue
        kept.append(word)
    return shlex.join(kept)


def start_postgis() -> None:
    """Start the cluster with its previous options; wait until it accepts connections."""
    if postgis_running():
        return
    log = data_dir() / "postgres.log"
    done = _pg_ctl("-l", str(log), "-w", "-t", "60", "start", "-o", _start_options())
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl start failed: {done.stdout}{done.stderr}")


def restart_postgis(down_s: float = 0.0, mode: StopMode = "immediate") -> None:
    """Stop the cluster, keep it down ``down_s`` seconds, start it again."""
    stop_postgis(mode)
    time.sleep(down_s)
    start_postgis()


@contextmanager
def postgis_down(down_s: float = 0.0, mode: StopMode = "immediate") -> Iterator[None]:
    """PostGIS is stopped inside the block, and for at least ``down_s`` seconds in all.

    It is started again on exit, whatever happened inside.
    """
    stop_postgis(mode)
    stopped = time.monotonic()
    try:
        yield
    finally:
        time.sleep(max(0.0, down_s - (time.monotonic() - stopped)))
        start_postgis()
