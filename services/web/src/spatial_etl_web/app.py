"""The ASGI application: pages, the JSON API (``/api``) and the STAC API (``/stac``).

Read only by construction: every route is a GET (or HEAD) over a :class:`Catalogue`. An
unexpected error answers 500 with a generic message and a reference to the server's log; no
stack trace, path or setting reaches the client.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from spatial_etl_web import api, assets, batches, intents, pages, stac_api
from spatial_etl_web.catalogue import Catalogue
from spatial_etl_web.stac_query import StacError

STATIC_DIR: Final = Path(__file__).parent / "static"
logger = logging.getLogger(__name__)


def create_app(catalogue: Catalogue) -> FastAPI:
    """The catalogue application over ``catalogue`` (which the caller closes)."""
    app = FastAPI(
        title="spatial-etl catalogue",
        summary="Read-only catalogue of the data lake: batches, assets, intents, STAC.",
        docs_url=None,  # Swagger UI would load its script from a CDN: /api lists the routes
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.catalogue = catalogue
    app.include_router(api.router, prefix="/api")
    for section in (batches, assets, intents):  # each: its JSON API and its pages
        app.include_router(section.api, prefix="/api")
        app.include_router(section.pages)
    app.include_router(stac_api.router, prefix="/stac")
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(StacError, stac_api.error_response)
    app.add_exception_handler(Exception, _unexpected)
    app.middleware("http")(_security_headers)
    return app


SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Sent with every response that does not set its own: nothing loads from another origin,
no inline script runs, no page is framed, nothing is sniffed."""


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def catalogue_of(request: Request) -> Catalogue:
    """The application's catalogue (a FastAPI dependency)."""
    found: Catalogue = request.app.state.catalogue
    return found


async def _unexpected(request: Request, error: Exception) -> Response:
    reference = uuid.uuid4().hex[:12]
    logger.error(
        "%s %s failed (reference %s)", request.method, request.url.path, reference, exc_info=error
    )
    message = f"internal error (reference {reference}); the server's log has the details"
    if request.url.path.startswith(("/api", "/stac")):
        return JSONResponse({"code": "InternalError", "description": message}, status_code=500)
    return PlainTextResponse(message, status_code=500)
