"""Translate a Pydantic model's JSON Schema into MongoDB's ``$jsonSchema`` dialect.

The ledger's validators are generated from the models, so the database and the code cannot
drift apart. MongoDB's dialect is draft 4 with ``bsonType``, no ``$ref`` and a few keywords
refused outright; anything this module cannot translate raises rather than being dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from pydantic import BaseModel

Schema = dict[str, Any]

_BSON_TYPES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "string": ("string",),
        "integer": ("int", "long"),
        "number": ("double", "int", "long"),
        "boolean": ("bool",),
        "object": ("object",),
        "array": ("array",),
        "null": ("null",),
    }
)
"""JSON types as BSON stores what pymongo encodes: small ints become int, large ones long."""

_FORMAT_TYPES: Final = MappingProxyType({"date-time": "date", "binary": "binData"})
"""Formats whose Python value pymongo stores as another BSON type than a string."""

_UNSTORABLE_FORMATS: Final = frozenset({"date", "time", "duration", "uuid", "path"})
"""Formats of Python values pymongo cannot encode as they are (date, UUID, Path...)."""

_DROPPED: Final = frozenset(
    {"title", "default", "examples", "$schema", "$comment", "readOnly", "writeOnly", "deprecated"}
)
"""Annotations MongoDB rejects or that mean nothing to a validator."""

_KEPT: Final = frozenset(
    {
        "description",
        "enum",
        "required",
        "pattern",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "uniqueItems",
        "multipleOf",
        "minProperties",
        "maxProperties",
    }
)
"""Keywords MongoDB's dialect shares with JSON Schema, copied as they are."""

_TYPE_SPECIFIC: Final = _KEPT - {"enum"} | {
    "bsonType",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "properties",
    "patternProperties",
    "required",
    "additionalProperties",
    "items",
    "additionalItems",
}
"""Keywords that constrain one type only, so adding ``null`` to ``bsonType`` keeps their sense."""

_HANDLED_ELSEWHERE: Final = frozenset(
    {"$ref", "$defs", "type", "format", "const", "items", "prefixItems"}
    | {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}
)
"""Keywords :func:`_translate` delegates to the helpers below it."""


def mongo_json_schema(model: type[BaseModel]) -> Schema:
    """The MongoDB ``$jsonSchema`` of a model: what the collection's validator enforces.

    Pydantic's JSON Schema (validation mode, by alias) is translated node by node: ``$ref`` is
    inlined (MongoDB has no references), ``type``/``format`` become ``bsonType`` (date-times
    are BSON dates, integers int or long), ``const`` becomes a one-value ``enum``,
    ``prefixItems`` becomes draft-4 ``items``, numeric exclusive bounds become draft-4
    booleans, and annotations MongoDB rejects (``title``, ``default``...) are dropped. A
    keyword with no MongoDB equivalent raises ``ValueError`` rather than being silently lost.
    """
    source = model.model_json_schema(by_alias=True, mode="validation")
    schema = _translate(source, source.get("$defs", {}), (), "$")
    if schema.get("additionalProperties") is False and "_id" not in schema.get("properties", {}):
        raise ValueError(f"{model.__name__} forbids extra keys but has no _id field")
    return schema


def _translate(node: Schema, defs: Schema, seen: tuple[str, ...], path: str) -> Schema:
    """Translate one schema node (and everything below it)."""
    if "$ref" in node:
        node, seen = _inline(node, defs, seen, path)
    out: Schema = {}
    bson_types = _bson_types(node, path)
    if bson_types:
        out["bsonType"] = bson_types[0] if len(bson_types) == 1 else bson_types
    if "const" in node:
        out["enum"] = [node["const"]]
    out.update(_bounds(node))
    out.update(_array_keywords(node, defs, seen, path))
    for key, value in node.items():
        if key in _KEPT:
            out[key] = value
        elif key in ("properties", "patternProperties"):
            out[key] = {
                name: _translate(sub, defs, seen, f"{path}.{name}") for name, sub in value.items()
            }
        elif key == "additionalProperties":
            out.update(_additional_properties(value, defs, seen, path))
        elif key == "not":
            out[key] = _translate(value, defs, seen, f"{path}!")
        elif key in ("anyOf", "oneOf", "allOf"):
            out[key] = [_translate(sub, defs, seen, f"{path}|{key}") for sub in value]
        elif key not in _HANDLED_ELSEWHERE and key not in _DROPPED:
            raise ValueError(f"{path}: {key!r} has no MongoDB $jsonSchema equivalent")
    if not out.get("required", True):
        del out["required"]  # draft 4 (and MongoDB) refuse an empty list
    return _merge_nullable(out)


def _additional_properties(
    value: bool | Schema, defs: Schema, seen: tuple[str, ...], path: str
) -> Schema:
    """``additionalProperties``, left out when it allows anything (``true`` or ``{}``)."""
    extra = value if isinstance(value, bool) else _translate(value, defs, seen, f"{path}.*")
    return {} if extra in (True, {}) else {"additionalProperties": extra}


def _inline(
    node: Schema, defs: Schema, seen: tuple[str, ...], path: str
) -> tuple[Schema, tuple[str, ...]]:
    """Replace a ``$ref`` by its definition; sibling keywords (a field's description) win."""
    ref = node["$ref"]
    name = ref.removeprefix("#/$defs/")
    if name == ref or name not in defs:
        raise ValueError(f"{path}: cannot inline {ref!r}")
    if name in seen:
        raise ValueError(f"{path}: {name} is recursive; MongoDB schemas cannot refer to themselves")
    siblings = {key: value for key, value in node.items() if key != "$ref"}
    return {**defs[name], **siblings}, (*seen, name)


def _bson_types(node: Schema, path: str) -> list[str]:
    """The BSON types a node's ``type`` (and ``format``) admit, in a stable order."""
    declared = node.get("type")
    if declared is None:
        return []
    fmt = str(node.get("format", ""))
    if fmt in _UNSTORABLE_FORMATS:
        raise ValueError(f"{path}: pymongo cannot store a {fmt!r} value; use str or datetime")
    types: list[str] = []
    for json_type in [declared] if isinstance(declared, str) else declared:
        if json_type == "string" and fmt in _FORMAT_TYPES:
            mapped: tuple[str, ...] = (_FORMAT_TYPES[fmt],)
        else:
            mapped = _BSON_TYPES[json_type]
        types.extend(bson for bson in mapped if bson not in types)
    return types


def _bounds(node: Schema) -> Schema:
    """Numeric bounds in draft 4's form, where ``exclusiveMinimum`` is a flag on ``minimum``."""
    out: Schema = {}
    for bound, exclusive, stricter in (
        ("minimum", "exclusiveMinimum", max),
        ("maximum", "exclusiveMaximum", min),
    ):
        inclusive, open_ = node.get(bound), node.get(exclusive)
        if open_ is None or (inclusive is not None and stricter(inclusive, open_) != open_):
            if inclusive is not None:
                out[bound] = inclusive
        else:
            out[bound] = open_
            out[exclusive] = True
    return out


def _array_keywords(node: Schema, defs: Schema, seen: tuple[str, ...], path: str) -> Schema:
    """``items``/``prefixItems`` (draft 2020-12) as draft 4's ``items``/``additionalItems``."""
    out: Schema = {}
    items = node.get("items")
    if "prefixItems" in node:
        out["items"] = [
            _translate(sub, defs, seen, f"{path}[{index}]")
            for index, sub in enumerate(node["prefixItems"])
        ]
        if items is not None:
            out["additionalItems"] = (
                items if isinstance(items, bool) else _translate(items, defs, seen, f"{path}[]")
            )
    elif isinstance(items, dict):
        translated = _translate(items, defs, seen, f"{path}[]")
        if translated:
            out["items"] = translated
    return out


def _merge_nullable(out: Schema) -> Schema:
    """Fold ``anyOf: [X, null]`` (Pydantic's ``X | None``) into X with ``null`` in ``bsonType``.

    Only done when X's keywords all constrain a single type, so admitting null changes
    nothing else; an ``enum`` gets ``None`` added. Other unions stay an ``anyOf``.
    """
    branches = out.get("anyOf")
    if (
        "bsonType" in out
        or not branches
        or len(branches) != 2
        or {"bsonType": "null"} not in branches
    ):
        return out
    (other,) = [branch for branch in branches if branch != {"bsonType": "null"}]
    if "bsonType" not in other or not set(other) <= _TYPE_SPECIFIC | {"description", "enum"}:
        return out
    types = other["bsonType"] if isinstance(other["bsonType"], list) else [other["bsonType"]]
    merged = {**other, **{key: value for key, value in out.items() if key != "anyOf"}}
    merged["bsonType"] = [*types, "null"]
    if "enum" in other:
        merged["enum"] = [*other["enum"], None]
    return merged
