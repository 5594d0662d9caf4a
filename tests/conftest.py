"""Fixtures of the cross-component tests (helpers live in support.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from ledger_server import LedgerAddress, serve_ledger, set_unavailable
from processes import Child, kill_tree, spawn
from remote_world import remote_world
from support import World, make_world


@pytest.fixture
def world(postgis_dsn: str, tmp_path: Path) -> Iterator[World]:
    """A platform on real S3 (moto's server), real PostGIS and GDAL, and a mongomock ledger."""
    with make_world(postgis_dsn, tmp_path) as made:
        yield made


# ----------------------------------------------------------------------------- fault-injection kit
# A ledger shared by processes, spawned children reaped after each test (tests/CONTEXT.md).


@pytest.fixture(scope="session")
def ledger_server() -> Iterator[LedgerAddress]:
    """One ledger server process for the session (each test takes a database of its own)."""
    with serve_ledger() as address:
        yield address


@pytest.fixture
def shared_ledger(ledger_server: LedgerAddress) -> Iterator[LedgerAddress]:
    """A fresh, indexed ledger database on the shared server; the outage switch reset after."""
    yield ledger_server.with_database(f"ledger_{uuid.uuid4().hex[:12]}")
    set_unavailable(ledger_server, False)


@pytest.fixture
def shared_world(postgis_dsn: str, tmp_path: Path, shared_ledger: LedgerAddress) -> Iterator[World]:
    """Like ``world``, on the shared ledger: ``world_payload(world, shared_ledger)`` for children."""
    with remote_world(postgis_dsn, tmp_path, shared_ledger) as made:
        yield made


@pytest.fixture
def spawn_child(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """``processes.spawn`` with a log under tmp_path; every child's tree is killed afterwards."""
    children: list[Child] = []

    def start(
        target: str, payload: Mapping[str, Any], *, env: Mapping[str, str] | None = None
    ) -> Child:
        log = tmp_path / "children" / f"{len(children)}-{target.replace(':', '.')}.log"
        child = spawn(target, payload, env=env, log=log)
        children.append(child)
        return child

    yield start
    for child in children:
        kill_tree(child)
