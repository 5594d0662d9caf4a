"""Intents: each with its plugin, accepted inputs, parameters and an example manifest.

Read from the process's :class:`~spatial_etl.plugins.registry.IntentCatalog` (loaded once at
start-up), never from the ledger: the page describes what this installation can ingest now.
An intent claimed by two plugins is unusable; it is listed apart as a conflict.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Final
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from spatial_etl.errors import IntentConflictError, UnknownIntentError
from spatial_etl.plugins.registry import RegisteredIntent

from spatial_etl_web.catalogue import Catalogue
from spatial_etl_web.intent_example import example_manifest, example_problems
from spatial_etl_web.replies import (
    QueryProblem,
    bad_query,
    given,
    json_refusal,
    page_refusal,
    page_size,
)
from spatial_etl_web.templating import render

api = APIRouter(tags=["intents"])
"""The JSON routes (mounted under ``/api``)."""

pages = APIRouter(include_in_schema=False)
"""The HTML routes."""

MAX_NAME: Final = 63
"""Longest intent name (the manifest's pattern)."""


def _catalogue(request: Request) -> Catalogue:
    from spatial_etl_web.app import catalogue_of  # noqa: PLC0415 - app imports this module

    return catalogue_of(request)


CatalogueDep = Annotated[Catalogue, Depends(_catalogue)]


def intent_path(name: str, *, api_path: bool = False) -> str:
    """The page (or JSON) URL of an intent."""
    return f"{'/api' if api_path else ''}/intents/{quote(name, safe='')}"


def _plugin(registered: RegisteredIntent) -> dict[str, str | None]:
    plugin = registered.plugin
    return {"name": plugin.name, "distribution": plugin.distribution, "version": plugin.version}


def accepts_view(registered: RegisteredIntent) -> dict[str, Any]:
    """What the intent reads, as data and as sentences a user can follow."""
    intent = registered.intent
    accepts = intent.accepts
    rules: list[str] = []
    if intent.takes_batch:
        rules.append(
            "All files of a batch are one product: they must agree on CRS, data type, band "
            "count and nodata."
        )
    else:
        rules.append("Each file of a batch is its own product (one dataset per file).")
    if accepts.file_type.value == "vector":
        if accepts.layers == "each":
            rules.append(
                "Every layer of a file becomes its own dataset, unless the 'layer' parameter "
                "names one."
            )
        else:
            rules.append("A file with several layers needs the 'layer' parameter to choose one.")
    if accepts.meta_drivers:
        rules.append(
            f"{', '.join(sorted(accepts.meta_drivers))} files may reference other files, only "
            "inside their own folder of the batch."
        )
    return {
        "file_type": accepts.file_type.value,
        "formats": sorted(accepts.drivers),
        "geometry_kinds": sorted(kind.value for kind in accepts.geometry_kinds),
        "layers": accepts.layers if accepts.file_type.value == "vector" else None,
        "meta_formats": sorted(accepts.meta_drivers),
        "inputs": intent.inputs,
        "rules": rules,
    }


def parameters_view(schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    """One entry per parameter: name, type, required, default, description, choices."""
    if not schema:
        return []
    required = set(schema.get("required", []))
    definitions: dict[str, Any] = schema.get("$defs", {})
    found: list[dict[str, Any]] = []
    for name, spec in schema.get("properties", {}).items():
        found.append(
            {
                "name": name,
                "type": _type_name(spec, definitions),
                "required": name in required,
                "default": spec.get("default"),
                "has_default": "default" in spec,
                "description": spec.get("description", ""),
                "enum": _choices(spec, definitions),
            }
        )
    return found


def _type_name(spec: dict[str, Any], definitions: dict[str, Any]) -> str:
    options = spec.get("anyOf") or [spec]
    names: list[str] = []
    for option in options:
        ref = option.get("$ref")
        target = definitions.get(ref.rsplit("/", 1)[-1], {}) if isinstance(ref, str) else option
        kind = target.get("type")
        if isinstance(kind, list):
            names += [str(item) for item in kind]
        elif kind is not None:
            names.append(str(kind))
        elif "enum" in target:
            names.append("choice")
    return " | ".join(dict.fromkeys(names)) or "any"


def _choices(spec: dict[str, Any], definitions: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for option in [spec, *spec.get("anyOf", [])]:
        ref = option.get("$ref")
        target = definitions.get(ref.rsplit("/", 1)[-1], {}) if isinstance(ref, str) else option
        found += list(target.get("enum", [target["const"]] if "const" in target else []))
    return found


def intent_summary(registered: RegisteredIntent) -> dict[str, Any]:
    """A row of the listing."""
    intent = registered.intent
    return {
        "name": intent.name,
        "summary": intent.summary,
        "plugin": _plugin(registered),
        "file_type": intent.accepts.file_type.value,
        "formats": sorted(intent.accepts.drivers),
        "links": {
            "self": intent_path(intent.name, api_path=True),
            "page": intent_path(intent.name),
        },
    }


def intent_detail(registered: RegisteredIntent) -> dict[str, Any]:
    """The intent as its page shows it, with an example manifest and the core's verdict."""
    intent = registered.intent
    schema = intent.parameter_schema()
    example = example_manifest(registered)
    problems = example_problems(registered, example)
    return {
        **intent_summary(registered),
        "description": intent.description,
        "accepts": accepts_view(registered),
        "parameters": parameters_view(schema),
        "parameter_schema": schema,
        "steps": [
            {"name": step.name, "kind": step.kind, "description": step.description}
            for step in intent.steps
        ],
        "example_manifest": example,
        "example_problems": [problem.model_dump() for problem in problems],
    }


def _listing(
    catalogue: Catalogue, limit_text: str | None, offset_text: str | None
) -> dict[str, Any]:
    found = catalogue.intents.intents
    limit = page_size(limit_text, catalogue.settings.web_page_size_max)
    raw = given(offset_text)
    offset = 0
    if raw is not None:
        if not raw.isdigit() or len(raw) > 9:
            raise QueryProblem("offset", "a whole number, 0 or more")
        offset = int(raw)
    shown = found[offset : offset + limit]
    more = offset + limit < len(found)
    return {
        "intents": [intent_summary(registered) for registered in shown],
        "conflicts": [
            {
                "intent": conflict.intent,
                "plugins": [plugin.name for plugin in conflict.plugins],
                "message": conflict.message,
            }
            for conflict in catalogue.intents.conflicts
        ],
        "limit": limit,
        "offset": offset,
        "next": f"/api/intents?limit={limit}&offset={offset + limit}" if more else None,
    }


def _registered(catalogue: Catalogue, name: str) -> RegisteredIntent | str:
    """The intent, or why there is none to show."""
    if len(name) > MAX_NAME:
        return f"no intent {name[:MAX_NAME]!r}... is installed"
    try:
        return catalogue.intents.get(name)
    except UnknownIntentError:
        return f"no intent {name!r} is installed"
    except IntentConflictError as error:
        return str(error)


@api.get("/intents", summary="Installed intents")
def list_intents(
    catalogue: CatalogueDep,
    limit: Annotated[str | None, Query(description="Intents per page, 1 to the limit")] = None,
    offset: Annotated[str | None, Query(description="Intents to skip")] = None,
) -> Response:
    """Usable intents by name, and names claimed by two plugins (``conflicts``).

    A bad ``limit`` or ``offset`` is 400 ``{"code": "BadQuery", ...}`` naming it.
    """
    try:
        return JSONResponse(_listing(catalogue, limit, offset))
    except QueryProblem as problem:
        return bad_query(problem)


@api.get("/intents/{name}", summary="An intent: inputs, parameters, example manifest")
def show_intent(name: str, catalogue: CatalogueDep) -> Response:
    """The intent's plugin, accepted inputs, parameters, steps and a valid example manifest."""
    found = _registered(catalogue, name)
    if isinstance(found, str):
        return json_refusal(404, "NotFound", found)
    return JSONResponse(intent_detail(found))


@pages.get("/intents", response_class=HTMLResponse)
def intents_page(request: Request, catalogue: CatalogueDep) -> HTMLResponse:
    """Every installed intent with its plugin and what it reads."""
    try:
        params = request.query_params
        listing = _listing(catalogue, params.get("limit"), params.get("offset"))
    except QueryProblem as problem:
        return page_refusal(request, 400, "Bad query", str(problem), section="intents")
    return render(request, "intents.html", section="intents", listing=listing)


@pages.get("/intents/{name}", response_class=HTMLResponse)
def intent_page(request: Request, name: str, catalogue: CatalogueDep) -> HTMLResponse:
    """One intent, with an example manifest to copy."""
    found = _registered(catalogue, name)
    if isinstance(found, str):
        return page_refusal(request, 404, "Intent not found", found, section="intents")
    detail = intent_detail(found)
    return render(
        request,
        "intent.html",
        section="intents",
        intent=detail,
        example_text=json.dumps(detail["example_manifest"], indent=2, ensure_ascii=False),
        schema_text=json.dumps(detail["parameter_schema"], indent=2, ensure_ascii=False),
    )
