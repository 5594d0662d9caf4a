"""Writing the batch's manifest from the request and the listed files.

Problems of the generated manifest are located back: ``files[i]`` names the local file it
came from, so the user is told about their file, not about a document they never wrote.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pydantic import JsonValue, ValidationError

from spatial_etl.errors import IntentConflictError, UnknownIntentError
from spatial_etl.models.landing import LANDING_BUCKET
from spatial_etl.models.problems import Problem
from spatial_etl.plugins.registry import IntentCatalog, RegisteredIntent
from spatial_etl.uploads.plan import PlannedUpload
from spatial_etl.uploads.request import UploadRequest


def typed_parameters(
    raw: Mapping[str, str], registered: RegisteredIntent | None
) -> dict[str, JsonValue]:
    """Turn parameters typed as text into manifest parameter values.

    A value that parses as JSON (``0.5``, ``true``, ``["a","b"]``) becomes that value, any
    other stays text. When the intent's model refuses the parsed value but the value was
    text originally (``layer=2020`` for a ``str`` parameter), the text is kept.
    """
    typed: dict[str, JsonValue] = {key: _json_or_text(value) for key, value in raw.items()}
    model = registered.intent.parameters if registered is not None else None
    if model is None:
        return typed
    try:
        model.model_validate(typed)
    except ValidationError as error:
        refused = {item["loc"][0] for item in error.errors() if item["loc"]}
        for key in refused:
            if isinstance(key, str) and key in raw and typed[key] != raw[key]:
                typed[key] = raw[key]
    return typed


def build_manifest(
    request: UploadRequest,
    listed: Sequence[PlannedUpload],
    crs_by_file: Mapping[str, str],
    catalog: IntentCatalog | None,
) -> dict[str, JsonValue]:
    """The manifest listing ``listed`` in order, each with its CRS from ``crs_by_file``."""
    registered: RegisteredIntent | None = None
    if catalog is not None:
        try:
            registered = catalog.get(request.intent)
        except (UnknownIntentError, IntentConflictError):
            registered = None  # the manifest's validation reports it
    metadata: dict[str, JsonValue] = {}
    if request.project is not None:
        metadata["project"] = request.project
    metadata["description"] = request.description
    if request.dataset is not None:
        metadata["dataset"] = request.dataset
    if request.parameters:
        metadata["parameters"] = typed_parameters(request.parameters, registered)
    files: list[JsonValue] = [
        {
            "path": f"s3://{LANDING_BUCKET}/{item.key}",
            "type": item.type.value if item.type else None,
            "format": item.format,
            "crs": crs_by_file[item.key],
        }
        for item in listed
    ]
    return {
        "batch_id": request.batch_id,
        "uploader": request.uploader,
        "intent": request.intent,
        "files": files,
        "metadata": metadata,
    }


def locate(problem: Problem, listed: Sequence[PlannedUpload]) -> Problem:
    """Name the local file behind a ``files[i]`` problem of the generated manifest."""
    loc = problem.loc
    if loc.startswith("files["):
        index = loc[len("files[") : loc.index("]")]
        if index.isdigit() and int(index) < len(listed):
            return problem.model_copy(update={"loc": f"{listed[int(index)].relative} ({loc})"})
    return problem


def _json_or_text(value: str) -> JsonValue:
    try:
        parsed: JsonValue = json.loads(value)
    except ValueError:
        return value
    return parsed
