"""Fixtures of the cross-component tests (helpers live in support.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support import World, make_world


@pytest.fixture
def world(postgis_dsn: str, tmp_path: Path) -> Iterator[World]:
    """A platform on real S3 (moto's server), real PostGIS and GDAL, and a mongomock ledger."""
    with make_world(postgis_dsn, tmp_path) as made:
        yield made
