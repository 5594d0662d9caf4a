"""Pages that belong to no section: the front page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from spatial_etl_web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
def front() -> RedirectResponse:
    """The catalogue opens on the asset search."""
    return RedirectResponse("/assets", status_code=307)


@router.get("/api")
def api_index(request: Request) -> HTMLResponse:
    """The JSON and STAC API's routes, from the OpenAPI document (no CDN-hosted viewer)."""
    schema = request.app.openapi()
    routes = [
        {"path": path, "method": method.upper(), "summary": operation.get("summary", "")}
        for path, operations in sorted(schema.get("paths", {}).items())
        for method, operation in operations.items()
    ]
    return render(request, "api.html", section="api", routes=routes)
