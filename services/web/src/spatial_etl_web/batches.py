"""Batches: newest first, with their status, problems, runs and assets."""

from __future__ import annotations

from fastapi import APIRouter

api = APIRouter(tags=["batches"])
"""The JSON routes (mounted under ``/api``)."""

pages = APIRouter(include_in_schema=False)
"""The HTML routes."""
