"""Intents: each with its plugin, accepted inputs, parameters and an example manifest."""

from __future__ import annotations

from fastapi import APIRouter

api = APIRouter(tags=["intents"])
"""The JSON routes (mounted under ``/api``)."""

pages = APIRouter(include_in_schema=False)
"""The HTML routes."""
