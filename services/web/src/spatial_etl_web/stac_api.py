"""The STAC API (``/stac/...``): landing page, conformance, collections, items, search."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["stac"])
