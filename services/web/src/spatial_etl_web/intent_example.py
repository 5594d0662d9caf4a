"""An example manifest for an intent, built from its declaration, and the core's verdict on it.

The example is what a user copies and edits: a batch id, an uploader, one file (two tiles for
a batch intent) in a format the intent reads, the required metadata, and every parameter with
a value — its default, else the first of its choices. It is checked with the core's own
manifest validation (:func:`spatial_etl.run.validation.check_manifest`) each time it is shown,
so a page never offers an example the platform would reject without saying so.
"""

from __future__ import annotations

import json
from typing import Any, Final

from spatial_etl.models.kinds import FileType
from spatial_etl.models.problems import Problem
from spatial_etl.plugins.registry import IntentCatalog, IntentRegistry, RegisteredIntent
from spatial_etl.run.validation import check_manifest

EXAMPLE_BATCH: Final = "my_batch_2026_01"

_PREFERRED: Final = ("GTiff", "GPKG", "ESRI Shapefile", "GeoJSON", "FlatGeobuf", "JP2OpenJPEG")
"""Formats shown first when an intent reads several: the ones users have most often."""

_SUFFIXES: Final = {
    "GTiff": ".tif",
    "COG": ".tif",
    "JP2OpenJPEG": ".jp2",
    "GPKG": ".gpkg",
    "ESRI Shapefile": ".zip",
    "GeoJSON": ".geojson",
    "GeoJSONSeq": ".geojsonl",
    "FlatGeobuf": ".fgb",
    "Parquet": ".parquet",
    "CSV": ".csv",
    "KML": ".kml",
    "GML": ".gml",
    "VRT": ".vrt",
    "OGR_VRT": ".vrt",
    "HFA": ".img",
    "netCDF": ".nc",
    "PNG": ".png",
    "JPEG": ".jpg",
    "AAIGrid": ".asc",
}


def example_format(registered: RegisteredIntent) -> str:
    """The format the example's files declare: a common one the intent reads."""
    drivers = registered.intent.accepts.drivers - registered.intent.accepts.meta_drivers
    drivers = drivers or registered.intent.accepts.drivers
    for name in _PREFERRED:
        if name in drivers:
            return name
    return sorted(drivers)[0]


def example_parameters(schema: dict[str, Any] | None) -> dict[str, Any]:
    """A value for every parameter that has one to show: its default, else its first choice.

    A parameter whose default is null (unset) is left out: leaving it out means the same.
    """
    if not schema:
        return {}
    definitions: dict[str, Any] = schema.get("$defs", {})
    values: dict[str, Any] = {}
    for name, spec in schema.get("properties", {}).items():
        if "default" in spec:
            if spec["default"] is not None:
                values[name] = spec["default"]
            continue
        choices = _choices(spec, definitions)
        if choices:
            values[name] = choices[0]
        elif spec.get("examples"):
            values[name] = spec["examples"][0]
    return values


def _choices(spec: dict[str, Any], definitions: dict[str, Any]) -> list[Any]:
    found: list[Any] = []
    for option in [spec, *spec.get("anyOf", [])]:
        target = option
        ref = option.get("$ref")
        if isinstance(ref, str):
            target = definitions.get(ref.rsplit("/", 1)[-1], {})
        found += list(target.get("enum", [target["const"]] if "const" in target else []))
    return found


def example_manifest(registered: RegisteredIntent) -> dict[str, Any]:
    """A manifest for ``registered``'s intent, meant to be copied and edited."""
    intent = registered.intent
    driver = example_format(registered)
    suffix = _SUFFIXES.get(driver, ".dat")
    kind = intent.accepts.file_type
    stems = ["tile_1", "tile_2"] if intent.takes_batch else ["data"]
    files = [
        {
            "path": f"s3://landing-zone/{EXAMPLE_BATCH}/{stem}{suffix}",
            "type": kind.value,
            "format": driver,
            "crs": "EPSG:4326",
        }
        for stem in stems
    ]
    metadata: dict[str, Any] = {
        "project": "MY_PROJECT",
        "description": f"What the {'raster' if kind is FileType.RASTER else 'vector'} data "
        "is, for whoever finds it in the catalogue",
        "dataset": "my_dataset",
    }
    parameters = example_parameters(intent.parameter_schema())
    if parameters:
        metadata["parameters"] = parameters
    return {
        "batch_id": EXAMPLE_BATCH,
        "uploader": "your-name",
        "intent": intent.name,
        "files": files,
        "metadata": metadata,
    }


def example_problems(registered: RegisteredIntent, manifest: dict[str, Any]) -> list[Problem]:
    """What the core's manifest validation finds wrong with ``manifest`` (empty: valid)."""
    registry = IntentRegistry(registered.plugin)
    registry.register(registered.intent)
    report = check_manifest(
        json.dumps(manifest),
        source=f"{manifest['batch_id']}.json",
        catalog=IntentCatalog([registry]),
    )
    return list(report.problems)
