"""Assets: search (text, intent, project, dates, bbox), an asset's page, quicklook, download."""

from __future__ import annotations

from fastapi import APIRouter

api = APIRouter(tags=["assets"])
"""The JSON routes (mounted under ``/api``)."""

pages = APIRouter(include_in_schema=False)
"""The HTML routes."""
