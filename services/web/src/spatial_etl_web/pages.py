"""Pages that belong to no section: the front page."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

router = APIRouter(include_in_schema=False)


@router.get("/")
def front() -> RedirectResponse:
    """The catalogue opens on the asset search."""
    return RedirectResponse("/assets", status_code=307)
