"""The MongoDB ledger: generated validators, collection commands, indexes, reads and writes.

No MongoDB server runs here. mongomock enforces unique (and partial unique) indexes but ignores
validators and implements neither ``create`` with options nor ``collMod``; so the generated
``$jsonSchema`` is evaluated with ``jsonschema`` (draft 4, MongoDB's dialect, with a
``bsonType`` keyword mapping BSON types onto the Python values pymongo encodes), and the
commands are asserted as data.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal, get_args

import bson
import mongomock
import pytest
from bson.codec_options import CodecOptions
from ledger_documents import (
    RUN_ID,
    SHA_A,
    SHA_B,
    T0,
    batch,
    catalogued,
    input_record,
    raster_asset,
    rejected_batch,
    run,
    vector_asset,
)
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic import ValidationError as PydanticValidationError
from spatial_etl import ExportFormat
from spatial_etl.backends.asset_filters import asset_filter
from spatial_etl.backends.batch_filters import BatchKey, batch_filter
from spatial_etl.backends.ledger import (
    COLLECTIONS,
    Ledger,
    collection_commands,
    ensure_indexes,
    index_commands,
    init_ledger,
    mongo_json_schema,
)
from spatial_etl.errors import (
    AssetQueryError,
    BatchQueryError,
    DuplicateAssetError,
    DuplicateBatchError,
    LedgerError,
)
from spatial_etl.models import Problem
from spatial_etl.models import ledger as ledger_models
from spatial_etl.models.asset_search import SearchBox, parse_instant
from spatial_etl.models.ledger import (
    AssetDocument,
    AssetFormat,
    InputRecord,
    RasterFacts,
    RunDocument,
    RunError,
    new_asset_id,
)
from spatial_etl.settings import LedgerSettings
from spatial_etl.testing import mongo_schema_errors

# ----------------------------------------------------------------------------- evaluator

evaluate_mongo_schema = mongo_schema_errors


# Keywords MongoDB's $jsonSchema accepts (MongoDB manual, "$jsonSchema", available keywords).
MONGO_KEYWORDS = {
    "bsonType", "enum", "type", "allOf", "anyOf", "oneOf", "not", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "maxProperties", "minProperties", "required", "additionalProperties", "properties",
    "patternProperties", "dependencies", "additionalItems", "items", "maxItems", "minItems",
    "uniqueItems", "title", "description",
}  # fmt: skip


_COMBINERS = ("anyOf", "oneOf", "allOf")


def _keywords(schema: Any) -> Iterator[str]:
    """Every keyword used anywhere in a schema (property names are not keywords)."""
    if isinstance(schema, list):
        for item in schema:
            yield from _keywords(item)
        return
    if not isinstance(schema, dict):
        return
    for key, value in schema.items():
        yield key
        if key in ("properties", "patternProperties"):
            for sub in value.values():
                yield from _keywords(sub)
        elif key in ("items", "additionalItems", "additionalProperties", "not", *_COMBINERS):
            yield from _keywords(value)


# ----------------------------------------------------------------------------- examples


def _stored(doc: BaseModel) -> dict[str, Any]:
    return doc.model_dump(by_alias=True)


VALID = {
    "batch received": batch,
    "batch rejected, unparsable": rejected_batch,
    "batch running": lambda: batch(status="running", run_ids=[RUN_ID]),
    "run running": run,
    "run failed": lambda: run(
        status="failed",
        finished_at=T0 + timedelta(minutes=3),
        error=RunError(message="ogr2ogr exited with status 1", step="load", file="s3://a-b/c"),
    ),
    "asset pending vector": vector_asset,
    "asset committed raster, NaN nodata": lambda: raster_asset(
        status="committed", committed_at=T0 + timedelta(seconds=90)
    ),
    "asset failed": lambda: vector_asset(status="failed", failure="upload refused"),
    "asset duplicate": lambda: vector_asset(status="duplicate", duplicate_of=new_asset_id()),
}

# ----------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("make", VALID.values(), ids=list(VALID))
def test_every_valid_document_is_accepted_and_storable(make: Callable[[], BaseModel]) -> None:
    doc = make()
    stored = _stored(doc)
    assert evaluate_mongo_schema(mongo_json_schema(type(doc)), stored) == []
    assert bson.decode(bson.encode(stored))["_id"] == stored["_id"]
    assert type(doc).model_validate(stored) == doc


def _without(field: str) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc.pop(field)


def _setting(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = doc
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value

    return change


BROKEN: dict[str, tuple[Callable[[], BaseModel], Callable[[dict[str, Any]], None], str]] = {
    "missing required": (vector_asset, _without("sha256"), "'sha256' is a required property"),
    "missing _id": (batch, _without("_id"), "'_id' is a required property"),
    "wrong type int": (vector_asset, _setting("version", "one"), "not of bsonType"),
    "numeric string": (vector_asset, _setting("version", "1"), "not of bsonType"),
    "wrong type date": (batch, _setting("received_at", "yesterday"), "not of bsonType date"),
    "iso string date": (batch, _setting("received_at", T0.isoformat()), "not of bsonType date"),
    "bad enum": (vector_asset, _setting("status", "done"), "is not one of"),
    "bad run status": (run, _setting("status", "queued"), "is not one of"),
    "extra field": (vector_asset, _setting("owner", "bob"), "Additional properties"),
    "nested extra": (vector_asset, _setting("plugin.module", "x.y"), "Additional properties"),
    "bad sha256": (vector_asset, _setting("sha256", "A" * 64), "does not match"),
    "short sha256": (batch, _setting("manifest_sha256", "a" * 63), "does not match"),
    "input sha256": (run, _setting("inputs.0.sha256", "xyz"), "does not match"),
    "negative size": (vector_asset, _setting("size", -1), "less than the minimum"),
    "version zero": (vector_asset, _setting("version", 0), "less than the minimum"),
    "bool as int": (vector_asset, _setting("size", True), "not of bsonType"),
    "bbox too short": (vector_asset, _setting("bbox_wgs84", [1.0, 2.0]), "is too short"),
    "bbox latitude": (vector_asset, _setting("bbox_wgs84", [0, 95.0, 1, 96]), "greater than"),
    "bad format": (vector_asset, _setting("format", "GTiff"), "is not one of"),
    "bad nodata": (raster_asset, _setting("raster.nodata_special", "NaN"), "is not one of"),
    "negative timing": (run, _setting("timings.stage", -2.0), "less than the minimum"),
    "bad asset id": (vector_asset, _setting("_id", "not-an-object-id"), "does not match"),
    "bad problem": (rejected_batch, _setting("problems.0.loc", None), "not of bsonType"),
}


COERCED = {"numeric string", "iso string date", "bool as int"}
"""Values Pydantic's lax mode converts (the ledger stores the converted value) but BSON
would keep as they are, so only the database refuses them as written."""


@pytest.mark.parametrize(
    ("case", "make", "breaks", "expected"), [(k, *v) for k, v in BROKEN.items()], ids=list(BROKEN)
)
def test_broken_documents_are_refused_by_schema_and_model(
    case: str,
    make: Callable[[], BaseModel],
    breaks: Callable[[dict[str, Any]], None],
    expected: str,
) -> None:
    doc = make()
    stored = _stored(doc)
    breaks(stored)
    problems = evaluate_mongo_schema(mongo_json_schema(type(doc)), stored)
    assert any(expected in problem for problem in problems), problems
    if case in COERCED:
        type(doc).model_validate(stored)
    else:
        with pytest.raises(PydanticValidationError):
            type(doc).model_validate(stored)


@pytest.mark.parametrize("name", list(COLLECTIONS))
def test_schema_uses_only_mongodb_keywords(name: str) -> None:
    schema = mongo_json_schema(COLLECTIONS[name].model)
    used = set(_keywords(schema))
    assert used <= MONGO_KEYWORDS, used - MONGO_KEYWORDS
    for forbidden in ("$ref", "$defs", "title", "default", "format", "type", "const"):
        assert forbidden not in used
    assert "$ref" not in repr(schema)


@pytest.mark.parametrize("name", list(COLLECTIONS))
def test_schema_forbids_extra_keys_and_allows_id(name: str) -> None:
    schema = mongo_json_schema(COLLECTIONS[name].model)
    assert schema["bsonType"] == "object"
    assert schema["additionalProperties"] is False
    assert "_id" in schema["properties"]
    assert "_id" in schema["required"]


def test_nested_documents_forbid_extra_keys_too() -> None:
    properties = mongo_json_schema(AssetDocument)["properties"]
    assert properties["raster"]["additionalProperties"] is False
    assert properties["inputs"]["items"]["additionalProperties"] is False
    assert properties["iso19115"]["properties"]["lineage"]["additionalProperties"] is False


def test_datetimes_are_bson_dates() -> None:
    properties = mongo_json_schema(RunDocument)["properties"]
    assert properties["started_at"]["bsonType"] == "date"
    assert properties["finished_at"]["bsonType"] == ["date", "null"]


def test_commands_are_bson_encodable() -> None:
    for command in collection_commands():
        assert bson.decode(bson.encode(command)) == command


# ----------------------------------------------------------------------------- translation


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(alias="_id")


class _Part(BaseModel):
    size: int


class _Other(BaseModel):
    name: str


class _Node(BaseModel):
    children: list[_Node]


def _property(field: str, annotation: Any, **options: Any) -> dict[str, Any]:
    model = type(
        "M", (BaseModel,), {"__annotations__": {field: annotation}, field: Field(**options)}
    )
    return mongo_json_schema(model)["properties"][field]  # type: ignore[no-any-return]


INT = {"bsonType": ["int", "long"]}
NUMBER = {"bsonType": ["double", "int", "long"]}
STRING = {"bsonType": "string"}
PART = {"bsonType": "object", "properties": {"size": INT}, "required": ["size"]}
OTHER = {"bsonType": "object", "properties": {"name": STRING}, "required": ["name"]}


@pytest.mark.parametrize(
    ("annotation", "options", "expected"),
    [
        (int, {}, INT),
        (float, {}, NUMBER),
        (bool, {}, {"bsonType": "bool"}),
        (bytes, {}, {"bsonType": "binData"}),
        (datetime, {}, {"bsonType": "date"}),
        (int | None, {}, {"bsonType": ["int", "long", "null"]}),
        (Literal["x"], {}, {**STRING, "enum": ["x"]}),
        (Literal["a", "b"] | None, {}, {"bsonType": ["string", "null"], "enum": ["a", "b", None]}),
        (str | None, {"pattern": "^a$"}, {"bsonType": ["string", "null"], "pattern": "^a$"}),
        (int, {"gt": 0}, {**INT, "minimum": 0, "exclusiveMinimum": True}),
        (int, {"gt": 0, "ge": 1}, {**INT, "minimum": 1}),
        (int, {"gt": 1, "ge": 1}, {**INT, "minimum": 1, "exclusiveMinimum": True}),
        (float, {"lt": 5, "le": 4}, {**NUMBER, "maximum": 4}),
        (float, {"lt": 4}, {**NUMBER, "maximum": 4, "exclusiveMaximum": True}),
        (str, {"min_length": 2, "max_length": 3}, {**STRING, "minLength": 2, "maxLength": 3}),
        (list[str], {"min_length": 1}, {"bsonType": "array", "items": STRING, "minItems": 1}),
        (tuple[int, ...], {}, {"bsonType": "array", "items": INT}),
        (
            tuple[str, bool],
            {},
            {
                "bsonType": "array",
                "items": [STRING, {"bsonType": "bool"}],
                "minItems": 2,
                "maxItems": 2,
            },
        ),
        (dict[str, int], {}, {"bsonType": "object", "additionalProperties": INT}),
        (dict[str, Any], {}, {"bsonType": "object"}),
        (Any, {"description": "anything"}, {"description": "anything"}),
        (
            _Part | None,
            {"description": "a part"},
            {**PART, "bsonType": ["object", "null"], "description": "a part"},
        ),
        (_Part | _Other, {}, {"anyOf": [PART, OTHER]}),
        (int | str | None, {}, {"anyOf": [INT, STRING, {"bsonType": "null"}]}),
    ],
)
def test_translation_of_one_field(annotation: Any, options: dict[str, Any], expected: Any) -> None:
    assert _property("f", annotation, **options) == expected


@pytest.mark.parametrize(
    ("annotation", "options", "message"),
    [
        (date, {}, "cannot store a 'date'"),
        (timedelta, {}, "cannot store a 'duration'"),
        (_Node, {}, "recursive"),
        (str, {"json_schema_extra": {"propertyNames": {"pattern": "x"}}}, "'propertyNames' has no"),
    ],
)
def test_translation_refuses_what_mongodb_cannot_hold(
    annotation: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _property("f", annotation, **options)


def test_strict_model_without_id_is_refused() -> None:
    class NoId(BaseModel):
        model_config = ConfigDict(extra="forbid")
        name: str

    with pytest.raises(ValueError, match="no _id"):
        mongo_json_schema(NoId)
    assert mongo_json_schema(_Strict)["properties"]["_id"] == {"bsonType": "string"}


def test_every_ledger_field_is_described() -> None:
    models = [
        value
        for value in vars(ledger_models).values()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == ledger_models.__name__
    ]
    assert len(models) >= 12
    for model in models:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_asset_formats_are_the_export_formats() -> None:
    assert set(get_args(AssetFormat)) == {member.value for member in ExportFormat}


# ----------------------------------------------------------------------------- model rules


@pytest.mark.parametrize(
    ("value", "special"), [(float("nan"), "nan"), (math.inf, "inf"), (-math.inf, "-inf")]
)
def test_non_finite_nodata_is_stored_as_a_name(value: float, special: str) -> None:
    facts = RasterFacts(width=1, height=1, bands=1, dtype="Float32", nodata=value)
    assert (facts.nodata, facts.nodata_special) == (None, special)
    assert str(facts.nodata_value) == str(value)
    assert RasterFacts.model_validate_json(facts.model_dump_json()) == facts


def test_finite_nodata_and_a_special_one_are_exclusive() -> None:
    facts = RasterFacts(width=1, height=1, bands=1, dtype="Byte", nodata=0)
    assert facts.nodata_value == 0
    with pytest.raises(PydanticValidationError, match="exclusive"):
        RasterFacts(width=1, height=1, bands=1, dtype="Byte", nodata=0, nodata_special="nan")


def test_nan_is_refused_elsewhere() -> None:
    with pytest.raises(PydanticValidationError):
        run(timings={"stage": float("nan")})
    with pytest.raises(PydanticValidationError):
        vector_asset(bbox_wgs84=(float("nan"), 0, 1, 1))


def test_datetimes_are_aware_utc_milliseconds() -> None:
    local = datetime(2025, 3, 1, 13, 0, 0, 123_456, tzinfo=timezone(timedelta(hours=1)))
    doc = batch(received_at=local)
    assert doc.received_at == datetime(2025, 3, 1, 12, 0, 0, 123_000, tzinfo=UTC)
    assert doc.received_at.tzinfo is UTC
    with pytest.raises(PydanticValidationError, match="timezone"):
        batch(updated_at=datetime(2025, 3, 1, 12, 0))


def _facts() -> RasterFacts:
    return RasterFacts(width=1, height=1, bands=1, dtype="Byte", nodata=1)


def _with_extent(asset: AssetDocument, extent: dict[str, float] | None) -> AssetDocument:
    values = asset.model_dump()
    values["iso19115"]["extent"] = extent
    return AssetDocument.model_validate(values)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: vector_asset(status="committed"), "committed_at"),
        (lambda: vector_asset(committed_at=T0), "committed_at"),
        (lambda: vector_asset(status="duplicate"), "duplicate_of"),
        (lambda: vector_asset(status="failed"), "failure"),
        (lambda: vector_asset(raster=_facts()), "raster"),
        (lambda: vector_asset(format="COG"), "raster"),
        (lambda: raster_asset(feature_count=3), "COG"),
        (lambda: vector_asset(iso19115=_iso("elsewhere.parquet")), "s3_uri"),
        (lambda: _with_extent(vector_asset(), None), "iso19115.extent must be bbox_wgs84"),
        (
            lambda: _with_extent(vector_asset(), {"west": 0, "south": 0, "east": 1, "north": 1}),
            "iso19115.extent must be bbox_wgs84",
        ),
        (lambda: run(status="succeeded"), "finished_at"),
        (lambda: run(status="failed", finished_at=T0), "error"),
        (lambda: batch(status="rejected"), "problems"),
        (lambda: batch(problems=rejected_batch().problems), "problems"),
        (lambda: InputRecord(**{**input_record().model_dump(), "key": "other"}), "is not s3://"),
    ],
)
def test_cross_field_rules(make: Callable[[], BaseModel], message: str) -> None:
    with pytest.raises(PydanticValidationError, match=message):
        make()


def test_asset_ids_are_object_ids_made_before_upload() -> None:
    ids = {new_asset_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(bson.ObjectId.is_valid(value) and len(value) == 24 for value in ids)


# ----------------------------------------------------------------------------- init


def test_collection_commands_create_missing_collections_with_the_generated_validator() -> None:
    commands = collection_commands()
    assert [next(iter(command.items())) for command in commands] == [
        ("create", "batches"),
        ("create", "runs"),
        ("create", "assets"),
    ]
    for command, (name, spec) in zip(commands, COLLECTIONS.items(), strict=True):
        assert command == {
            "create": name,
            "validator": {"$jsonSchema": mongo_json_schema(spec.model)},
            "validationLevel": "strict",
            "validationAction": "error",
        }


def test_collection_commands_modify_existing_collections() -> None:
    commands = collection_commands({"runs", "unrelated"})
    assert [next(iter(command)) for command in commands] == ["create", "collMod", "create"]
    assert commands[1]["collMod"] == "runs"
    assert commands[1]["validator"] == {"$jsonSchema": mongo_json_schema(RunDocument)}
    assert commands[1]["validationLevel"] == "strict"


@pytest.fixture
def db() -> Any:
    return mongomock.MongoClient().ledger


def _emulate_commands(db: Any, sent: list[dict[str, Any]]) -> None:
    """Stand in for the server's create/collMod, which mongomock lacks; record what is sent."""

    def command(document: dict[str, Any]) -> dict[str, Any]:
        sent.append(document)
        if "create" in document:
            db.create_collection(document["create"])
        else:
            assert document["collMod"] in db.list_collection_names()
        return {"ok": 1.0}

    db.command = command


def _indexes(db: Any) -> dict[str, dict[str, Any]]:
    return {name: db[name].index_information() for name in COLLECTIONS}


def test_init_ledger_creates_collections_validators_and_indexes(db: Any) -> None:
    sent: list[dict[str, Any]] = []
    _emulate_commands(db, sent)
    done = init_ledger(db)
    assert sent == collection_commands()
    assert sorted(db.list_collection_names()) == ["assets", "batches", "runs"]
    assert done[:3] == ["created batches", "created runs", "created assets"]
    assets = db.assets.index_information()
    assert set(assets) == {
        "_id_",
        "intent_dataset_version_unique",
        "s3_key_unique",
        "intent_dataset_status_version",
        "sha256",
        "run_id",
        "batch_id",
        "intent_dataset_sha256_unique",
        "status",
        "status_catalogued_at",
        "status_committed_at",
        "project_status_committed_at",
        "status_extent_west",
        "status_extent_east",
        "duplicate_of",
    }
    content = assets["intent_dataset_sha256_unique"]
    assert content["unique"] is True
    assert list(content["key"]) == [("intent", 1), ("dataset", 1), ("sha256", 1)]
    assert content["partialFilterExpression"] == {"status": {"$in": ["pending", "committed"]}}
    version = assets["intent_dataset_version_unique"]
    assert version["unique"] is True
    assert list(version["key"]) == [("intent", 1), ("dataset", 1), ("version", 1)]
    assert version["partialFilterExpression"] == {"status": {"$in": ["pending", "committed"]}}
    assert list(assets["intent_dataset_status_version"]["key"])[-1] == ("version", -1)
    assert db.batches.index_information()["manifest_key_etag_unique"]["unique"] is True
    assert "batch_id" in db.runs.index_information()


def test_index_commands_are_what_ensure_indexes_creates(db: Any) -> None:
    ensure_indexes(db)
    commands = index_commands()
    assert [command["createIndexes"] for command in commands] == list(COLLECTIONS)
    for command in commands:
        created = db[command["createIndexes"]].index_information()
        assert set(created) - {"_id_"} == {index["name"] for index in command["indexes"]}
        for index in command["indexes"]:
            made = created[index["name"]]
            assert list(made["key"]) == list(index["key"].items())
            assert made.get("unique", False) is index["unique"]
            assert made.get("partialFilterExpression") == index.get("partialFilterExpression")
    assert bson.decode(bson.encode({"commands": commands}))["commands"] == commands


def test_init_ledger_twice_changes_nothing(db: Any) -> None:
    sent: list[dict[str, Any]] = []
    _emulate_commands(db, sent)
    init_ledger(db)
    before = _indexes(db)
    sent.clear()
    done = init_ledger(db)
    assert sent == collection_commands(set(COLLECTIONS))
    assert [next(iter(command)) for command in sent] == ["collMod"] * 3
    assert done[:3] == [f"updated the validator of {name}" for name in COLLECTIONS]
    assert _indexes(db) == before
    assert sorted(db.list_collection_names()) == ["assets", "batches", "runs"]


# ----------------------------------------------------------------------------- ledger


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def ledger(db: Any) -> Ledger:
    ensure_indexes(db)
    return Ledger(db, clock=Clock())


def _schema_accepts_stored(db: Any, name: str, doc_id: str) -> None:
    raw = db[name].find_one({"_id": doc_id})
    assert evaluate_mongo_schema(mongo_json_schema(COLLECTIONS[name].model), raw) == []


def test_batch_round_trip_and_replay(ledger: Ledger, db: Any) -> None:
    doc = batch()
    assert ledger.record_batch(doc) is True
    assert ledger.get_batch("batch_01") == doc
    assert ledger.record_batch(doc) is False  # the sensor saw the same object again
    _schema_accepts_stored(db, "batches", "batch_01")
    assert ledger.get_batch("other") is None


@pytest.mark.parametrize("status", ["running", "succeeded"])
def test_a_new_manifest_cannot_reuse_an_accepted_batch_id(ledger: Ledger, status: str) -> None:
    ledger.record_batch(batch())
    ledger.update_batch_status("batch_01", "running", run_id=RUN_ID)
    if status == "succeeded":
        ledger.update_batch_status("batch_01", "succeeded")
    with pytest.raises(DuplicateBatchError, match="new batch id"):
        ledger.record_batch(batch(manifest_etag='"other"'))


def test_a_reuploaded_manifest_replaces_a_waiting_or_failed_batch(ledger: Ledger) -> None:
    ledger.record_batch(batch())
    waiting_again = batch(manifest_etag='"second"')
    assert ledger.record_batch(waiting_again) is True
    ledger.update_batch_status("batch_01", "running", run_id=RUN_ID)
    ledger.update_batch_status("batch_01", "failed")
    retry = batch(manifest_etag='"third"')
    assert ledger.record_batch(retry) is True
    assert ledger.get_batch("batch_01") == retry


def test_a_corrected_manifest_replaces_a_rejected_batch(ledger: Ledger) -> None:
    ledger.record_batch(rejected_batch())
    corrected = batch(manifest_etag='"fixed"')
    assert ledger.record_batch(corrected) is True
    assert ledger.get_batch("batch_01") == corrected


def test_the_same_manifest_object_cannot_get_two_batch_ids(ledger: Ledger) -> None:
    ledger.record_batch(batch())
    with pytest.raises(DuplicateBatchError, match="another batch id"):
        ledger.record_batch(batch(batch_id="batch_02"))


def test_update_batch_status(ledger: Ledger, db: Any) -> None:
    ledger.record_batch(batch())
    running = ledger.update_batch_status("batch_01", "running", run_id=RUN_ID)
    assert (running.status, running.run_ids) == ("running", [RUN_ID])
    assert running.updated_at > T0
    again = ledger.update_batch_status("batch_01", "running", run_id=RUN_ID)
    assert again.run_ids == [RUN_ID]
    assert ledger.update_batch_status("batch_01", "succeeded").status == "succeeded"
    _schema_accepts_stored(db, "batches", "batch_01")


def test_rejecting_a_batch_needs_problems_and_is_final(ledger: Ledger) -> None:
    ledger.record_batch(batch())
    with pytest.raises(PydanticValidationError, match="problems"):
        ledger.update_batch_status("batch_01", "rejected")
    problems = [Problem(loc="intent", code="unknown_intent", message="no such intent")]
    assert (
        ledger.update_batch_status("batch_01", "rejected", problems=problems).problems == problems
    )
    with pytest.raises(LedgerError, match="is rejected; it cannot become running"):
        ledger.update_batch_status("batch_01", "running")
    with pytest.raises(LedgerError, match="no batches document"):
        ledger.update_batch_status("missing", "running")


def test_run_lifecycle(ledger: Ledger, db: Any) -> None:
    ledger.start_run(run())
    with pytest.raises(LedgerError, match="already recorded"):
        ledger.start_run(run())
    asset_id = new_asset_id()
    done = ledger.finish_run(
        RUN_ID, "succeeded", outputs=[asset_id], timings={"export": 2.0}, finished_at=T0
    )
    assert (done.status, done.outputs, done.finished_at) == ("succeeded", [asset_id], T0)
    assert done.timings == {"stage": 1.5, "export": 2.0}
    assert ledger.get_run(RUN_ID) == done
    _schema_accepts_stored(db, "runs", RUN_ID)
    with pytest.raises(LedgerError, match="already finished: succeeded"):
        ledger.finish_run(RUN_ID, "failed", error=RunError(message="late"))


def test_a_failed_run_needs_its_error(ledger: Ledger) -> None:
    ledger.start_run(run())
    with pytest.raises(PydanticValidationError, match="error"):
        ledger.finish_run(RUN_ID, "failed")
    failed = ledger.finish_run(RUN_ID, "failed", error=RunError(message="boom", step="load"))
    assert failed.error == RunError(message="boom", step="load")
    assert failed.finished_at is not None and failed.finished_at > T0


def test_start_run_takes_a_running_run(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="running run"):
        ledger.start_run(run(status="succeeded", finished_at=T0))


def test_asset_round_trip(ledger: Ledger, db: Any) -> None:
    doc = raster_asset()
    ledger.insert_pending_asset(doc)
    read = ledger.get_asset(doc.asset_id)
    assert read == doc
    assert (
        read is not None and read.raster is not None and math.isnan(read.raster.nodata_value or 0)
    )
    _schema_accepts_stored(db, "assets", doc.asset_id)


def test_the_same_version_cannot_be_claimed_twice(ledger: Ledger) -> None:
    ledger.insert_pending_asset(vector_asset(version=3))
    with pytest.raises(DuplicateAssetError, match="districts version 3"):
        ledger.insert_pending_asset(vector_asset(version=3))


def test_the_same_key_cannot_be_claimed_twice(ledger: Ledger) -> None:
    ledger.insert_pending_asset(vector_asset(version=1, s3_key="x/v1.parquet"))
    with pytest.raises(DuplicateAssetError, match=r"key x/v1\.parquet"):
        ledger.insert_pending_asset(vector_asset(version=2, s3_key="x/v1.parquet"))


def test_a_retried_insert_of_the_same_document_is_a_duplicate(ledger: Ledger) -> None:
    doc = vector_asset()
    ledger.insert_pending_asset(doc)
    with pytest.raises(DuplicateAssetError):
        ledger.insert_pending_asset(doc)
    assert ledger.get_asset(doc.asset_id) == doc


def _iso(key: str) -> dict[str, Any]:
    iso = vector_asset().iso19115.model_dump()
    iso["distribution"]["s3_uri"] = f"s3://data-lake/{key}"
    return iso


def test_commit_asset_only_from_pending(ledger: Ledger, db: Any) -> None:
    doc = vector_asset()
    ledger.insert_pending_asset(doc)
    committed = ledger.commit_asset(doc.asset_id, T0 + timedelta(minutes=1))
    assert (committed.status, committed.committed_at) == ("committed", T0 + timedelta(minutes=1))
    assert ledger.get_asset(doc.asset_id) == committed
    _schema_accepts_stored(db, "assets", doc.asset_id)
    with pytest.raises(LedgerError, match="is committed; only a pending asset"):
        ledger.commit_asset(doc.asset_id, T0)
    with pytest.raises(LedgerError, match="is committed"):
        ledger.fail_asset(doc.asset_id, "too late")
    with pytest.raises(LedgerError, match="no assets document"):
        ledger.commit_asset(new_asset_id(), T0)


def test_a_failed_asset_cannot_be_committed_and_frees_its_version(ledger: Ledger) -> None:
    doc = vector_asset(version=1)
    ledger.insert_pending_asset(doc)
    failed = ledger.fail_asset(doc.asset_id, "upload refused: checksum mismatch")
    assert (failed.status, failed.failure) == ("failed", "upload refused: checksum mismatch")
    with pytest.raises(LedgerError, match="is failed"):
        ledger.commit_asset(doc.asset_id, T0)
    retry = vector_asset(version=1, s3_key=doc.s3_key)
    ledger.insert_pending_asset(retry)
    assert ledger.get_asset(retry.asset_id) == retry


def test_insert_pending_asset_takes_pending_documents(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="pending asset"):
        ledger.insert_pending_asset(vector_asset(status="committed", committed_at=T0))


def test_writes_validate_copies_again(ledger: Ledger) -> None:
    broken = vector_asset().model_copy(update={"size": -1})  # model_copy does not validate
    with pytest.raises(PydanticValidationError, match="size"):
        ledger.insert_pending_asset(broken)
    assert ledger.get_asset(broken.asset_id) is None


def _publish(
    ledger: Ledger, version: int, sha: str | None = None, *, commit: bool = True
) -> AssetDocument:
    doc = vector_asset(version=version, **({"sha256": sha} if sha else {}))
    ledger.insert_pending_asset(doc)
    return ledger.commit_asset(doc.asset_id, T0) if commit else doc


def test_latest_committed_ignores_pending_and_failed(ledger: Ledger) -> None:
    assert ledger.latest_committed("ingest_vector_boundary", "districts") is None
    _publish(ledger, 1)
    second = _publish(ledger, 2)
    _publish(ledger, 4, commit=False)  # pending
    failed = _publish(ledger, 5, commit=False)
    ledger.fail_asset(failed.asset_id, "boom")
    latest = ledger.latest_committed("ingest_vector_boundary", "districts")
    assert latest == second
    assert ledger.latest_committed("ingest_vector_boundary", "other") is None
    assert ledger.next_version("ingest_vector_boundary", "districts") == 5
    assert ledger.next_version("ingest_vector_boundary", "other") == 1


def test_find_committed_by_sha256(ledger: Ledger) -> None:
    first = _publish(ledger, 1, SHA_A)
    _publish(ledger, 2, SHA_B)
    assert ledger.find_committed_by_sha256("ingest_vector_boundary", "districts", SHA_A) == first
    assert ledger.find_committed_by_sha256("ingest_vector_boundary", "other", SHA_A) is None
    assert ledger.find_committed_by_sha256("ingest_vector_boundary", "districts", "c" * 64) is None


def test_the_same_content_never_holds_two_versions_of_a_dataset(ledger: Ledger) -> None:
    _publish(ledger, 1, SHA_A)
    with pytest.raises(DuplicateAssetError, match="version 2"):
        _publish(ledger, 2, SHA_A, commit=False)  # the unique index, not a check before it
    pending = _publish(ledger, 2, SHA_B, commit=False)
    with pytest.raises(DuplicateAssetError):
        _publish(ledger, 3, SHA_B, commit=False)  # a pending version holds its content too
    ledger.fail_asset(pending.asset_id, "upload failed")
    assert _publish(ledger, 3, SHA_B).version == 3  # a failed attempt frees it
    other = vector_asset(version=1, sha256=SHA_A, dataset="other", s3_key="x/other/v1/o.parquet")
    ledger.insert_pending_asset(other)  # the same content in another dataset is fine


def test_a_duplicate_is_recorded_without_claiming_a_version(ledger: Ledger, db: Any) -> None:
    original = _publish(ledger, 1)
    duplicate = original.model_copy(
        update={
            "asset_id": new_asset_id(),
            "status": "duplicate",
            "committed_at": None,
            "duplicate_of": original.asset_id,
            "run_id": "another-run",
        }
    )
    ledger.record_duplicate(duplicate)
    assert ledger.get_asset(duplicate.asset_id) == duplicate
    assert ledger.latest_committed("ingest_vector_boundary", "districts") == original
    _schema_accepts_stored(db, "assets", duplicate.asset_id)
    orphan = duplicate.model_copy(
        update={"asset_id": new_asset_id(), "duplicate_of": new_asset_id()}
    )
    with pytest.raises(LedgerError, match="not a committed asset"):
        ledger.record_duplicate(orphan)
    with pytest.raises(ValueError, match="duplicate asset"):
        ledger.record_duplicate(vector_asset())


def test_from_settings_does_not_connect() -> None:
    settings = LedgerSettings(
        mongodb_uri=SecretStr("mongodb://user:secret@127.0.0.1:1/?serverSelectionTimeoutMS=50"),
        mongodb_database="ledger_test",
    )
    ledger = Ledger.from_settings(settings)
    try:
        assert ledger.db.name == "ledger_test"
        assert ledger.db.client.codec_options.tz_aware is True
    finally:
        ledger.close()


def test_from_settings_takes_a_server_selection_timeout() -> None:
    settings = LedgerSettings(mongodb_uri=SecretStr("mongodb://127.0.0.1:1/"))
    ledger = Ledger.from_settings(settings, server_selection_timeout_s=0.25)
    try:
        assert ledger.db.client.options.server_selection_timeout == 0.25
    finally:
        ledger.close()
    with pytest.raises(ValueError, match="must be positive"):
        Ledger.from_settings(settings, server_selection_timeout_s=0)


# ----------------------------------------------------------------------------- reads for people


def test_runs_of_batch_oldest_first(ledger: Ledger) -> None:
    later = run(run_id="run-b", started_at=T0 + timedelta(hours=1))
    ledger.start_run(later)
    ledger.start_run(run(run_id="run-a"))
    ledger.start_run(run(run_id="run-other", batch_id="batch_02"))
    assert [r.run_id for r in ledger.runs_of_batch("batch_01")] == ["run-a", "run-b"]
    assert ledger.runs_of_batch("batch_02")[0].run_id == "run-other"
    assert ledger.runs_of_batch("nope") == []


def test_assets_of_batch_and_of_run_in_every_status(ledger: Ledger) -> None:
    first = _publish(ledger, 1)
    failed = _publish(ledger, 2, commit=False)
    failed = ledger.fail_asset(failed.asset_id, "upload refused")
    other = vector_asset(version=3, run_id="run-2", batch_id="batch_02", created_at=T0)
    ledger.insert_pending_asset(other)
    assert ledger.assets_of_batch("batch_01") == [first, failed]
    assert ledger.assets_of_batch("batch_01", limit=1) == [first]
    assert ledger.assets_of_run(RUN_ID) == [first, failed]
    assert ledger.assets_of_batch("batch_02") == [other]
    assert ledger.assets_of_run("run-2") == [other]
    assert ledger.assets_of_batch("nope") == []


def test_list_assets_latest_committed_version_of_each_dataset(ledger: Ledger) -> None:
    _publish(ledger, 1)
    districts_2 = _publish(ledger, 2)
    _publish(ledger, 3, commit=False)  # pending: not listed
    scene = raster_asset(created_at=T0)
    ledger.insert_pending_asset(scene)
    scene = ledger.commit_asset(scene.asset_id, T0)
    rivers = vector_asset(dataset="rivers", s3_key="rivers/v1.parquet")
    ledger.insert_pending_asset(rivers)
    rivers = ledger.commit_asset(rivers.asset_id, T0)
    assert ledger.list_assets() == [scene, districts_2, rivers]
    assert ledger.list_assets(intent="ingest_vector_boundary") == [districts_2, rivers]
    assert ledger.list_assets(dataset="districts") == [districts_2]
    assert ledger.list_assets(intent="ingest_lidar") == []
    assert ledger.list_assets(limit=2) == [scene, districts_2]
    versions = ledger.list_assets(dataset="districts", latest_only=False)
    assert [a.version for a in versions] == [2, 1]
    assert [a.version for a in ledger.list_assets(status="pending", latest_only=False)] == [3]
    with pytest.raises(ValueError, match="limit"):
        ledger.list_assets(limit=0)


# ----------------------------------------------------------------------------- searches

BOXES: dict[str, tuple[float, float, float, float] | None] = {
    "alps": (5.9, 45.8, 10.5, 47.8),
    "fiji": (177.0, -21.0, -178.0, -12.0),  # crosses the antimeridian
    "chukotka": (170.0, 60.0, -170.0, 70.0),  # crosses it too, further north
    "hawaii": (-160.5, 18.9, -154.8, 22.2),
    "new_zealand": (166.0, -47.5, 178.6, -34.0),  # ends just west of it
    "world": (-180.0, -90.0, 180.0, 90.0),
    "unknown": None,  # no extent: matches no box
}


@pytest.fixture
def places(ledger: Ledger) -> dict[str, AssetDocument]:
    committed = {}
    for number, (name, box) in enumerate(BOXES.items()):
        doc = vector_asset(dataset=name, s3_key=f"places/{name}.parquet", bbox_wgs84=box)
        ledger.insert_pending_asset(doc)
        committed[name] = ledger.commit_asset(doc.asset_id, T0 + timedelta(hours=number))
    return committed


def _found(ledger: Ledger, **criteria: Any) -> set[str]:
    """Datasets found, the same through find and through the latest-version aggregation."""
    found = {a.dataset for a in ledger.list_assets(latest_only=False, limit=1000, **criteria)}
    latest = ledger.list_assets(limit=1000, **criteria)
    assert {a.dataset for a in latest} == found
    return found


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        ((5.0, 45.0, 11.0, 48.0), {"alps", "world"}),
        ((10.5, 47.8, 12.0, 49.0), {"alps", "world"}),  # touching a corner intersects
        ((10.6, 47.8, 12.0, 49.0), {"world"}),
        ((5.0, 50.0, 11.0, 60.0), {"world"}),  # the longitudes overlap, the latitudes do not
        ((0.0, 0.0, 1.0, 1.0), {"world"}),
        ((-179.0, -20.0, -170.0, -15.0), {"fiji", "world"}),  # fiji's piece east of 180
        ((176.0, -20.0, 177.5, -15.0), {"fiji", "world"}),  # and its piece west of it
        ((178.6, -40.0, 178.6, -35.0), {"new_zealand", "world"}),  # one meridian, an edge
        ((-180.0, 60.0, -175.0, 65.0), {"chukotka", "world"}),
        # boxes crossing the antimeridian
        ((175.0, -25.0, -175.0, -10.0), {"fiji", "world"}),
        ((179.0, 50.0, -179.0, 80.0), {"chukotka", "world"}),  # neither end of chukotka inside
        ((100.0, -50.0, -150.0, 80.0), {"fiji", "chukotka", "hawaii", "new_zealand", "world"}),
        ((179.0, -45.0, -179.0, -40.0), {"world"}),  # new zealand ends at 178.6
        ((-180.0, -90.0, 180.0, 90.0), set(BOXES) - {"unknown"}),
    ],
)
def test_list_assets_by_bbox(
    ledger: Ledger,
    places: dict[str, AssetDocument],
    box: tuple[float, float, float, float],
    expected: set[str],
) -> None:
    assert _found(ledger, bbox=SearchBox(west=box[0], south=box[1], east=box[2], north=box[3])) == (
        expected
    )


def _pieces(west: float, east: float) -> list[tuple[float, float]]:
    return [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]


def _intersects(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """The reference: longitude pieces on the circle, closed intervals."""
    if a[1] > b[3] or b[1] > a[3]:
        return False
    return any(
        p[0] <= q[1] and q[0] <= p[1] for p in _pieces(a[0], a[2]) for q in _pieces(b[0], b[2])
    )


def test_list_assets_by_bbox_agrees_with_interval_geometry(
    ledger: Ledger, places: dict[str, AssetDocument]
) -> None:
    generator = random.Random(20250301)  # noqa: S311 - reproducible boxes, not secrets
    edges = [-180.0, -178.0, -170.0, -160.5, -154.8, 0.0, 5.9, 10.5, 166.0, 177.0, 178.6, 180.0]
    for _ in range(150):
        west, east = (generator.choice([*edges, generator.uniform(-180, 180)]) for _ in "we")
        south, north = sorted(generator.uniform(-90, 90) for _ in "sn")
        box = (west, south, east, north)
        expected = {n for n, b in BOXES.items() if b is not None and _intersects(b, box)}
        search = SearchBox(west=west, south=south, east=east, north=north)
        assert _found(ledger, bbox=search) == expected, box


def test_list_assets_by_commit_time_since_inclusive_until_exclusive(
    ledger: Ledger, places: dict[str, AssetDocument]
) -> None:
    # places were committed one per hour from T0, in BOXES' order
    order = list(BOXES)
    assert _found(ledger, since=T0 + timedelta(hours=2)) == set(order[2:])
    assert _found(ledger, until=T0 + timedelta(hours=2)) == set(order[:2])
    window = {"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=3)}
    assert _found(ledger, **window) == set(order[1:3])
    # an instant in another zone is the same instant
    paris = timezone(timedelta(hours=1))
    assert _found(ledger, since=(T0 + timedelta(hours=6)).astimezone(paris)) == {"unknown"}
    assert _found(ledger, since=T0 + timedelta(hours=2), bbox=SearchBox.parse("0,0,1,1")) == {
        "world"
    }


def test_a_time_window_leaves_out_every_uncommitted_asset(ledger: Ledger) -> None:
    pending = vector_asset(created_at=T0)
    ledger.insert_pending_asset(pending)
    window = {"since": T0 - timedelta(days=1), "until": T0 + timedelta(days=1)}
    assert ledger.list_assets(status="pending", latest_only=False) == [pending]
    assert ledger.list_assets(status="pending", latest_only=False, **window) == []


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({"since": T0, "until": T0}, "must be before until"),
        ({"since": T0 + timedelta(seconds=1), "until": T0}, "must be before until"),
        ({"since": datetime(2025, 3, 1)}, "since must be timezone aware"),
        ({"until": datetime(2025, 3, 1)}, "until must be timezone aware"),
    ],
)
def test_a_bad_time_window_is_refused(
    ledger: Ledger, window: dict[str, datetime], message: str
) -> None:
    with pytest.raises(AssetQueryError, match=message):
        ledger.list_assets(**window)


def test_list_assets_by_project(ledger: Ledger) -> None:
    for name, project in (("parcels", "cadastre"), ("forests", "forestry"), ("misc", None)):
        doc = catalogued(
            vector_asset(dataset=name, s3_key=f"{name}/v1.parquet", created_at=T0),
            project=project,
        )
        ledger.insert_pending_asset(doc)
        ledger.commit_asset(doc.asset_id, T0)
    assert _found(ledger, project="cadastre") == {"parcels"}
    assert _found(ledger, project="forestry") == {"forests"}
    assert _found(ledger, project="nobody") == set()
    assert _found(ledger) == {"parcels", "forests", "misc"}
    assert [a.dataset for a in ledger.list_assets(project="cadastre")] == ["parcels"]


def test_latest_only_picks_the_latest_of_what_the_criteria_keep(ledger: Ledger) -> None:
    for version in (1, 2, 3):
        doc = vector_asset(version=version)
        ledger.insert_pending_asset(doc)
        ledger.commit_asset(doc.asset_id, T0 + timedelta(days=version))
    as_of = ledger.list_assets(until=T0 + timedelta(days=2, hours=1))
    assert [(a.dataset, a.version) for a in as_of] == [("districts", 2)]
    assert [a.version for a in ledger.list_assets()] == [3]
    recent = ledger.list_assets(since=T0 + timedelta(days=2), latest_only=False)
    assert [a.version for a in recent] == [3, 2]
    assert [a.version for a in ledger.list_assets(latest_only=False, limit=2)] == [3, 2]


def test_the_filter_is_plain_mongodb(places: dict[str, AssetDocument]) -> None:
    """Only operators MongoDB documents for find and $match, the $expr under a range."""
    allowed = {"$lte", "$gte", "$lt", "$gt", "$or", "$and", "$expr"}
    query = asset_filter(
        status="committed",
        intent="i",
        project="p",
        since=T0,
        until=T0 + timedelta(days=1),
        bbox=SearchBox.parse("170,-20,-170,-10"),
    )

    def operators(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key.startswith("$"):
                    yield key
                    if key == "$expr":
                        continue  # an aggregation expression: its own operators
                yield from operators(item)
        elif isinstance(value, list):
            for item in value:
                yield from operators(item)

    assert set(operators(query)) <= allowed
    assert query["provenance.project"] == "p"
    assert query["committed_at"] == {"$gte": T0, "$lt": T0 + timedelta(days=1)}
    for branch in query["$or"]:
        if "$and" in branch:
            first, expression = branch["$and"]
            assert set(first) & {"iso19115.extent.west", "iso19115.extent.east"}
            assert expression == {
                "$expr": {"$gt": ["$iso19115.extent.west", "$iso19115.extent.east"]}
            }
    assert bson.decode(bson.encode(query), CodecOptions(tz_aware=True)) == query


def test_search_indexes_are_named_and_cover_the_searched_fields(db: Any) -> None:
    indexes = {index.name: index for index in COLLECTIONS["assets"].indexes}
    keys = {name: [field for field, _ in index.keys] for name, index in indexes.items()}
    assert keys["status_committed_at"] == ["status", "committed_at"]
    assert keys["project_status_committed_at"] == ["provenance.project", "status", "committed_at"]
    extent = [f"iso19115.extent.{side}" for side in ("west", "east", "south", "north")]
    assert keys["status_extent_west"] == ["status", *extent]
    assert keys["status_extent_east"] == ["status", extent[1], extent[0], *extent[2:]]
    assert keys["duplicate_of"] == ["duplicate_of"]
    assert indexes["duplicate_of"].partial == {"status": "duplicate"}
    ensure_indexes(db)
    before = db.assets.index_information()
    assert set(indexes) <= set(before)
    ensure_indexes(db)  # named: creating them again changes nothing
    assert db.assets.index_information() == before


def test_dataset_versions_and_duplicates_of(ledger: Ledger) -> None:
    first = _publish(ledger, 1)
    second = _publish(ledger, 2)
    _publish(ledger, 3, commit=False)
    assert ledger.dataset_versions("ingest_vector_boundary", "districts") == [second, first]
    assert ledger.dataset_versions("ingest_vector_boundary", "districts", limit=1) == [second]
    assert ledger.dataset_versions("ingest_vector_boundary", "other") == []
    copies = []
    for hour in (2, 1):
        copy = first.model_copy(
            update={
                "asset_id": new_asset_id(),
                "status": "duplicate",
                "committed_at": None,
                "duplicate_of": first.asset_id,
                "run_id": f"rerun-{hour}",
                "created_at": T0 + timedelta(hours=hour),
            }
        )
        ledger.record_duplicate(copy)
        copies.append(copy)
    assert ledger.duplicates_of(first.asset_id) == [copies[1], copies[0]]
    assert ledger.duplicates_of(second.asset_id) == []


def test_search_box_text() -> None:
    box = SearchBox.parse(" 170, -20 ,-170,-10")
    assert (box.west, box.south, box.east, box.north) == (170.0, -20.0, -170.0, -10.0)
    assert box.crosses_antimeridian
    assert box.as_text() == "170,-20,-170,-10"
    assert not SearchBox.parse("-180,-90,180,90").crosses_antimeridian


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3", "four numbers W,S,E,N"),
        ("1,2,3,4,5", "four numbers"),
        ("", "four numbers"),
        ("a,2,3,4", "west 'a' is not a number"),
        ("200,2,3,4", "west 200 is not within -180 and 180"),
        ("0,-91,3,4", "south -91 is not within -90 and 90"),
        ("0,0,nan,4", "east nan is not within"),
        ("0,0,1,inf", "north inf is not within -90 and 90"),
        ("0,50,1,40", "south 50 is north of north 40"),
        ("x,100,1,y", "west 'x' is not a number; south 100 is not within -90 and 90; north 'y'"),
    ],
)
def test_search_box_text_problems(text: str, message: str) -> None:
    with pytest.raises(AssetQueryError, match=re.escape(message)):
        SearchBox.parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-03-01", datetime(2025, 3, 1, tzinfo=UTC)),
        ("2025-03-01T12:30", datetime(2025, 3, 1, 12, 30, tzinfo=UTC)),
        ("2025-03-01T12:30:00Z", datetime(2025, 3, 1, 12, 30, tzinfo=UTC)),
        ("2025-03-01T14:30:00+02:00", datetime(2025, 3, 1, 12, 30, tzinfo=UTC)),
        ("2025-03-01 12:30:00.250", datetime(2025, 3, 1, 12, 30, 0, 250_000, tzinfo=UTC)),
    ],
)
def test_instants_from_text(text: str, expected: datetime) -> None:
    parsed = parse_instant(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize("text", ["yesterday", "2025-13-01", "01/03/2025", "", "2025-03-01T25:00"])
def test_instants_from_bad_text(text: str) -> None:
    with pytest.raises(AssetQueryError, match="not an ISO 8601 date or date-time"):
        parse_instant(text)


# ----------------------------------------------------------------------------- batch listings


def _listed_batch(
    batch_id: str,
    minutes: int,
    *,
    status: str = "received",
    uploader: str = "alice",
    project: str | None = "cadastre",
) -> Any:
    """A batch received ``minutes`` after T0 (its manifest named after it, in ``project``)."""
    manifest = batch().manifest
    assert manifest is not None
    metadata = {"description": "Districts"} | ({"project": project} if project else {})
    changes: dict[str, Any] = {
        "batch_id": batch_id,
        "manifest_key": f"manifests/{batch_id}.json",
        "uploader": uploader,
        "status": status,
        "received_at": T0 + timedelta(minutes=minutes),
        "updated_at": T0 + timedelta(minutes=minutes),
        "manifest": {**manifest, "batch_id": batch_id, "metadata": metadata},
    }
    if status == "rejected":
        changes["problems"] = [Problem(loc="files[0].path", code="missing", message="no file")]
    return batch(**changes)  # fmt: skip


@pytest.fixture
def listed(ledger: Ledger) -> list[str]:
    """Six batches; b3 and b4 arrived at the same instant (the id breaks the tie)."""
    for doc in (
        _listed_batch("b1", 1),
        _listed_batch("b2", 2, status="rejected", uploader="bob"),
        _listed_batch("b3", 3, uploader="bob", project="roads"),
        _listed_batch("b4", 3, status="rejected"),
        _listed_batch("b5", 5, project=None),
        _listed_batch("b6", 6, status="rejected", project="roads"),
    ):
        assert ledger.record_batch(doc)
    return ["b6", "b5", "b4", "b3", "b2", "b1"]


def _ids(found: list[Any]) -> list[str]:
    return [doc.batch_id for doc in found]


def test_list_batches_newest_first_with_filters(ledger: Ledger, listed: list[str]) -> None:
    assert _ids(ledger.list_batches()) == listed
    assert _ids(ledger.list_batches(status="rejected")) == ["b6", "b4", "b2"]
    assert _ids(ledger.list_batches(uploader="bob")) == ["b3", "b2"]
    assert _ids(ledger.list_batches(project="roads")) == ["b6", "b3"]
    assert _ids(ledger.list_batches(project="roads", status="rejected")) == ["b6"]
    assert _ids(ledger.list_batches(uploader="nobody")) == []
    since, until = T0 + timedelta(minutes=2), T0 + timedelta(minutes=5)
    assert _ids(ledger.list_batches(since=since)) == ["b6", "b5", "b4", "b3", "b2"]
    assert _ids(ledger.list_batches(since=since, until=until)) == ["b4", "b3", "b2"]
    assert ledger.list_batches(limit=2) == [ledger.get_batch("b6"), ledger.get_batch("b5")]


def test_list_batches_pages_by_position(ledger: Ledger, listed: list[str]) -> None:
    seen: list[str] = []
    after: BatchKey | None = None
    while True:
        page = ledger.list_batches(after=after, limit=3)  # b4 | b3: a tie across pages
        if not page:
            break
        seen += _ids(page)
        after = BatchKey(page[-1].received_at, page[-1].batch_id)
    assert seen == listed
    tie = BatchKey(T0 + timedelta(minutes=3), "b4")
    assert _ids(ledger.list_batches(after=tie)) == ["b3", "b2", "b1"]
    assert _ids(ledger.list_batches(after=tie, uploader="bob")) == ["b3", "b2"]
    window = {"since": T0 + timedelta(minutes=2), "until": T0 + timedelta(minutes=4)}
    assert _ids(ledger.list_batches(after=tie, **window)) == ["b3", "b2"]  # type: ignore[arg-type]


def test_list_batches_refuses_bad_windows(ledger: Ledger) -> None:
    with pytest.raises(BatchQueryError, match=r"since .* must be before until"):
        ledger.list_batches(since=T0, until=T0)
    with pytest.raises(BatchQueryError, match="until must be timezone aware"):
        ledger.list_batches(until=datetime(2025, 1, 1))
    with pytest.raises(BatchQueryError, match="timezone-aware"):
        ledger.list_batches(after=BatchKey(datetime(2025, 1, 1), "b1"))
    with pytest.raises(ValueError, match="limit must be at least 1"):
        ledger.list_batches(limit=0)


def test_batch_filter_is_plain_mongodb_and_indexed(db: Any) -> None:
    key = BatchKey(T0, "b4")
    query = batch_filter(
        status="failed", uploader="u", project="p", since=T0 - timedelta(days=1), after=key
    )
    assert query["status"] == "failed"
    assert query["manifest.metadata.project"] == "p"
    assert query["$and"][0] == {"received_at": {"$gte": T0 - timedelta(days=1)}}
    assert bson.decode(bson.encode(query), CodecOptions(tz_aware=True)) == query
    indexes = {index.name: index for index in COLLECTIONS["batches"].indexes}
    keys = {name: list(index.keys) for name, index in indexes.items()}
    newest = [("received_at", -1), ("_id", -1)]
    assert keys["received_at_id"] == newest
    assert keys["status_received_at_id"] == [("status", 1), *newest]
    assert keys["uploader_received_at_id"] == [("uploader", 1), *newest]
    assert keys["project_received_at_id"] == [("manifest.metadata.project", 1), *newest]
    ensure_indexes(db)
    assert set(indexes) <= set(db.batches.index_information())
