"""The manifest: the JSON document whose upload commits a batch (README, "The upload protocol").

The schema is the upload protocol's, validated strictly: unknown top-level keys are refused,
every path is checked against the landing-zone rules before any I/O, and every problem is
reported at once with its location (Pydantic collects field errors; cross-field rules raise
located errors too).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import PurePosixPath
from typing import Annotated, Any, Final, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from spatial_etl.errors import ManifestError
from spatial_etl.models.crs import crs_problem
from spatial_etl.models.drivers import FILE_DRIVERS, SERVICE_DRIVERS
from spatial_etl.models.kinds import FileType
from spatial_etl.models.landing import (
    BATCH_ID_PATTERN,
    LandingPath,
    batch_id_problem,
    parse_landing_path,
)
from spatial_etl.models.problems import Problem, describe_problems, problems_from_validation

INTENT_NAME_PATTERN: Final = r"^[a-z][a-z0-9_]{0,62}$"
"""Intent names: lower-case identifiers, so they can name Dagster assets and lake prefixes."""

DATASET_NAME_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
"""Dataset names become one segment of a lake key."""

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
IntentName = Annotated[str, StringConstraints(pattern=INTENT_NAME_PATTERN)]

_SHAPEFILE_SUFFIXES: Final = (".shp", ".zip", ".shz")


class ManifestFile(BaseModel):
    """One uploaded file of a batch, as the manifest declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(
        description="s3://landing-zone/<batch_id>/... key of the uploaded file.",
        json_schema_extra={"pattern": "^s3://landing-zone/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}/.+$"},
    )
    type: FileType = Field(description="Whether the file holds raster or vector data.")
    format: str = Field(
        description="GDAL driver short name of the file, e.g. GTiff or GPKG.",
        json_schema_extra={"enum": list[JsonValue](sorted(FILE_DRIVERS))},
    )
    crs: str = Field(description="The file's CRS: an authority code (EPSG:4326), WKT or PROJJSON.")

    @field_validator("path")
    @classmethod
    def _path_in_landing_zone(cls, value: str) -> str:
        parse_landing_path(value)
        return value

    @field_validator("format")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if value in SERVICE_DRIVERS:
            raise ValueError(f"{value!r} is a database or web-service driver, not a file format")
        if value not in FILE_DRIVERS:
            matches = [name for name in FILE_DRIVERS if name.lower() == value.lower()]
            hint = f" (did you mean {matches[0]!r}?)" if matches else ""
            raise ValueError(f"{value!r} is not a GDAL driver short name{hint}")
        return value

    @field_validator("crs")
    @classmethod
    def _parsable_crs(cls, value: str) -> str:
        problem = crs_problem(value)
        if problem:
            raise ValueError(problem)
        return value.strip()

    @model_validator(mode="after")
    def _format_reads_type(self) -> Self:
        if self.type not in FILE_DRIVERS[self.format]:
            raise ValueError(f"format {self.format!r} does not read {self.type.value} data")
        if self.format == "ESRI Shapefile" and not self.path.lower().endswith(_SHAPEFILE_SUFFIXES):
            raise ValueError(
                "a Shapefile is declared by its .shp (sidecars beside it) or by a .zip holding it"
            )
        return self

    @property
    def landing(self) -> LandingPath:
        """The parsed landing-zone location of the file."""
        return parse_landing_path(self.path)


class ManifestMetadata(BaseModel):
    """User context for the batch. ``project`` and ``description`` are required.

    Two more keys have a meaning for the platform: ``dataset`` names the lake dataset, and
    ``parameters`` holds the intent's parameters (validated by the intent's own model). Any other
    key is kept as user metadata and recorded with the assets.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    project: NonEmpty = Field(description="Project the batch belongs to.")
    description: str = Field(description="User supplied context for the batch.")
    dataset: Annotated[str, StringConstraints(pattern=DATASET_NAME_PATTERN)] | None = Field(
        default=None,
        description="Dataset name in the lake; defaults to the input file's stem.",
    )
    parameters: dict[str, JsonValue] = Field(
        default_factory=dict, description="Parameters of the intent, checked by its model."
    )

    @property
    def extra(self) -> dict[str, Any]:
        """The user's own keys beyond the ones the platform interprets."""
        return dict(self.model_extra or {})


class Manifest(BaseModel):
    """The manifest of one batch, exactly the upload protocol's schema.

    Validate with :meth:`from_json` when the file name is known: the batch id must equal it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, title="Spatial ETL manifest")

    batch_id: str = Field(
        description="Unique batch identifier; equals the manifest's file name.",
        json_schema_extra={"pattern": BATCH_ID_PATTERN},
    )
    uploader: NonEmpty = Field(description="User or system that uploaded the batch.")
    intent: IntentName = Field(description="Registered intent that processes the batch.")
    files: list[ManifestFile] = Field(min_length=1, description="The batch's uploaded files.")
    metadata: ManifestMetadata = Field(description="User context and intent parameters.")

    @field_validator("batch_id")
    @classmethod
    def _safe_batch_id(cls, value: str) -> str:
        problem = batch_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _named_after_batch(
        cls, data: Any, handler: ModelWrapValidatorHandler[Manifest], info: ValidationInfo
    ) -> Manifest:
        # Checked around the model rather than on the field, so that a mismatched file name
        # does not hide the batch-folder checks that need a valid batch_id.
        errors: list[InitErrorDetails] = []
        manifest: Manifest | None = None
        try:
            manifest = handler(data)
        except ValidationError as error:
            errors.extend(_relocatable(error))
        name = (info.context or {}).get("manifest_name")
        batch_id = data.get("batch_id") if isinstance(data, dict) else None
        if name is not None and isinstance(batch_id, str):
            stem = PurePosixPath(str(name)).name.removesuffix(".json")
            if stem != batch_id:
                message = f"batch_id {batch_id!r} must equal the manifest's file name ({stem!r})"
                errors.insert(0, _located(("batch_id",), "batch_id_mismatch", message, batch_id))
        if errors or manifest is None:
            raise ValidationError.from_exception_data(cls.__name__, errors)
        return manifest

    @field_validator("files", mode="wrap")
    @classmethod
    def _files_in_batch_folder(
        cls, value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> list[ManifestFile]:
        # A wrap validator, so that batch-folder and duplicate errors are reported together
        # with the files' own errors instead of only once every file is otherwise valid.
        errors: list[InitErrorDetails] = []
        files: list[ManifestFile] = []
        try:
            files = handler(value)
        except ValidationError as error:
            errors.extend(_relocatable(error))
        if isinstance(value, list):
            errors.extend(_batch_folder_errors(value, info.data.get("batch_id")))
        if errors:
            raise ValidationError.from_exception_data("files", errors)
        return files

    @classmethod
    def from_json(cls, data: str | bytes, *, name: str | None = None) -> Manifest:
        """Parse and validate a manifest; raise :class:`ManifestError` listing every problem.

        ``name`` is the manifest's file name or object key; when given, the batch id must match.
        """
        raw, problems = parse_json_object(data)
        if raw is None:
            raise ManifestError(
                f"manifest is not valid JSON:\n{describe_problems(problems)}", problems
            )
        try:
            return cls.model_validate(raw, context={"manifest_name": name})
        except ValidationError as error:
            problems = problems_from_validation(error)
            raise ManifestError(
                f"manifest is invalid:\n{describe_problems(problems)}", problems
            ) from None


def _located(
    loc: tuple[int | str, ...], code: str, message: str, value: object
) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(code, message), loc=loc, input=value)


def _relocatable(error: ValidationError) -> list[InitErrorDetails]:
    """Turn a caught ``ValidationError`` back into details that can be raised with others."""
    return [
        _located(item["loc"], item["type"], item["msg"], item["input"])
        for item in error.errors(include_url=False)
    ]


def _batch_folder_errors(items: list[Any], batch_id: str | None) -> list[InitErrorDetails]:
    """Locate files outside ``s3://landing-zone/<batch_id>/`` and files listed twice."""
    errors: list[InitErrorDetails] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        path = item.get("path") if isinstance(item, dict) else getattr(item, "path", None)
        if not isinstance(path, str):
            continue
        try:
            landing = parse_landing_path(path)
        except ValueError:
            continue  # reported by the file's own validation
        if batch_id is not None and landing.batch_id != batch_id:
            message = f"path must be inside the batch folder s3://landing-zone/{batch_id}/"
            errors.append(_located((index, "path"), "batch_folder", message, path))
        if path in seen:
            message = f"path is already listed as files[{seen[path]}]"
            errors.append(_located((index, "path"), "duplicate_path", message, path))
        seen.setdefault(path, index)
    return errors


MAX_JSON_DEPTH: Final = 32
"""Deepest nesting of arrays and objects a manifest may have (MongoDB stores at most 100)."""


def parse_json_object(data: str | bytes) -> tuple[dict[str, Any] | None, list[Problem]]:
    """Decode a JSON object strictly; any input gives a value or problems, never an exception.

    Refused, each as a located problem: text that is not JSON or not UTF-8, duplicate keys (a
    silent last-one-wins hides mistakes), ``NaN`` and ``Infinity`` (not JSON, and not storable
    in the ledger), nesting deeper than :data:`MAX_JSON_DEPTH`, and a document that is not an
    object.
    """
    try:
        value = json.loads(data, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:
        return None, [_too_deep()]
    except (ValueError, UnicodeDecodeError) as error:  # JSONDecodeError is a ValueError
        return None, [Problem(loc="", code="invalid_json", message=f"not valid JSON: {error}")]
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        return None, [_too_deep()]
    if not isinstance(value, dict):
        kind = type(value).__name__
        return None, [
            Problem(loc="", code="not_an_object", message=f"expected a JSON object, got {kind}")
        ]
    return value, []


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    counts = Counter(key for key, _ in pairs)
    duplicates = sorted(key for key, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"duplicate key(s) {', '.join(map(repr, duplicates[:10]))}")
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _too_deep() -> Problem:
    return Problem(
        loc="",
        code="too_deep",
        message=f"arrays and objects are nested more than {MAX_JSON_DEPTH} levels deep",
    )


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests containers deeper than ``limit`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
