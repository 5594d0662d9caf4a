"""The JSON API behind every page (``/api/...``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["catalogue"])


@router.get("/health")
def health() -> dict[str, str]:
    """Liveness: the process answers (it checks no backend)."""
    return {"status": "ok"}
