"""Fixtures of the web catalogue's tests: a populated platform, the app, a server, a browser.

``world`` is the cross-component tests' platform (real S3 on moto's server, real PostGIS and
GDAL, a mongomock ledger); ``catalogue`` reads it; ``client`` calls the app in process;
``served`` runs it under uvicorn on loopback for clients that need a real server (pystac-client,
the browser); ``page`` is a fresh tab of Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from loopback_server import serve
from spatial_etl.settings import WebSettings
from spatial_etl_web.app import create_app
from spatial_etl_web.catalogue import Catalogue
from support import World, make_world

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Without the background-networking flags Chromium keeps dialling out of this closed network."""


@pytest.fixture
def world(postgis_dsn: str, tmp_path: Path) -> Iterator[World]:
    """A platform on real S3, PostGIS and GDAL, with a mongomock ledger."""
    with make_world(postgis_dsn, tmp_path) as made:
        yield made


@pytest.fixture
def catalogue(world: World) -> Catalogue:
    """The catalogue over ``world`` (default web settings)."""
    return Catalogue(
        ledger=world.ledger,
        store=world.store,
        intents=world.platform.catalog,
        settings=WebSettings(),
    )


@pytest.fixture
def client(catalogue: Catalogue) -> TestClient:
    """The app in process; server errors come back as responses, as a browser sees them."""
    return TestClient(create_app(catalogue), raise_server_exceptions=False)


@pytest.fixture
def served(catalogue: Catalogue) -> Iterator[str]:
    """The app under uvicorn on a free loopback port; yields its base URL."""
    with serve(create_app(catalogue)) as url:
        yield url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (one per session)."""
    from playwright.sync_api import sync_playwright  # only browser tests need it

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and tab; JavaScript errors on the page fail the test."""
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == [], errors
