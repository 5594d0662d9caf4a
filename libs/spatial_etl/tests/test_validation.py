"""Offline manifest validation against the registered intents: the report and its problems."""

from __future__ import annotations

import json
from typing import Any

import pytest
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    Intent,
    IntentRegistry,
    hookimpl,
)
from spatial_etl.errors import ManifestError
from spatial_etl.models import Problem
from spatial_etl.plugins.loading import load_plugins, register_plugin
from spatial_etl.plugins.registry import IntentCatalog, PluginInfo
from spatial_etl.run.validation import ManifestReport, check_manifest, require_valid
from spatial_etl.settings import PluginSettings

RASTER_INTENT = "ingest_satellite_raster"
VECTOR_INTENT = "ingest_vector_boundary"


@pytest.fixture(scope="module")
def catalog() -> IntentCatalog:
    """The four real plugins, loaded through their entry points."""
    loaded = load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()))
    assert loaded.failures == []
    assert loaded.names() == [
        "ingest_raster_mosaic",
        RASTER_INTENT,
        VECTOR_INTENT,
        "ingest_vector_features",
    ]
    return loaded


def _raster(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "batch_id": "batch_r1",
        "uploader": "alice",
        "intent": RASTER_INTENT,
        "files": [
            {
                "path": "s3://landing-zone/batch_r1/scene.tif",
                "type": "raster",
                "format": "GTiff",
                "crs": "EPSG:32633",
            }
        ],
        "metadata": {"project": "ALPHA", "description": "a scene"},
    }
    document.update(changes)
    return document


def _vector(**changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "batch_id": "batch_v1",
        "uploader": "bob",
        "intent": VECTOR_INTENT,
        "files": [
            {
                "path": "s3://landing-zone/batch_v1/districts.zip",
                "type": "vector",
                "format": "ESRI Shapefile",
                "crs": "EPSG:25832",
            }
        ],
        "metadata": {"project": "BETA", "description": "districts", "parameters": {}},
    }
    document.update(changes)
    return document


def _with_parameters(document: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    return {**document, "metadata": {**document["metadata"], "parameters": parameters}}


def _check(document: dict[str, Any], catalog: IntentCatalog | None) -> ManifestReport:
    source = f"manifests/{document.get('batch_id')}.json"
    return check_manifest(json.dumps(document), source=source, catalog=catalog)


def _locs(report: ManifestReport) -> list[tuple[str, str]]:
    return sorted((problem.loc, problem.code) for problem in report.problems)


def _plain_intent(name: str) -> Intent:
    return Intent(
        name=name,
        summary=f"test intent {name}",
        accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"})),
        steps=(ExportStep(name="export", description="cog", format=ExportFormat.COG),),
    )


class _OnePlugin:
    """A plugin object registering one parameterless raster intent."""

    def __init__(self, intent_name: str) -> None:
        self.intent_name = intent_name

    @hookimpl
    def register_intents(self, registry: IntentRegistry) -> None:
        registry.register(_plain_intent(self.intent_name))


def _catalog_of(*plugins: tuple[str, object]) -> IntentCatalog:
    return IntentCatalog(
        [register_plugin(PluginInfo(name=name, module="tests"), plugin) for name, plugin in plugins]
    )


# ----------------------------------------------------------------------------- valid manifests


def test_valid_raster_manifest(catalog: IntentCatalog) -> None:
    report = _check(_with_parameters(_raster(), {"target_crs": "EPSG:3857"}), catalog)
    assert report.valid
    assert report.problems == []
    assert report.source == "manifests/batch_r1.json"
    assert report.batch_id == "batch_r1"
    assert report.intent == RASTER_INTENT
    assert report.plugin is not None
    assert report.plugin.name == "satellite_raster"
    assert report.plugin.distribution == "spatial-etl-satellite-raster"
    assert report.known_intents is None


def test_valid_vector_manifest(catalog: IntentCatalog) -> None:
    report = _check(_with_parameters(_vector(), {"layer": "districts"}), catalog)
    assert report.valid
    assert report.problems == []
    assert report.plugin is not None
    assert report.plugin.distribution == "spatial-etl-vector-boundary"


def test_without_catalog_only_the_schema_is_checked() -> None:
    report = _check(_raster(intent="ingest_lidar"), None)
    assert report.valid
    assert report.intent == "ingest_lidar"
    assert report.plugin is None


def test_report_round_trips_as_json(catalog: IntentCatalog) -> None:
    report = _check(_raster(intent="ingest_lidar"), catalog)
    again = ManifestReport.model_validate_json(report.model_dump_json())
    assert again == report


# ----------------------------------------------------------------------------- intent routing


def test_unknown_intent_lists_the_known_ones(catalog: IntentCatalog) -> None:
    report = _check(_raster(intent="ingest_lidar"), catalog)
    assert not report.valid
    [problem] = report.problems
    assert (problem.loc, problem.code) == ("intent", "unknown_intent")
    assert problem.message == (
        "unknown intent 'ingest_lidar'; registered intents: ingest_raster_mosaic, "
        "ingest_satellite_raster, ingest_vector_boundary, ingest_vector_features"
    )
    assert report.known_intents == [
        "ingest_raster_mosaic",
        RASTER_INTENT,
        VECTOR_INTENT,
        "ingest_vector_features",
    ]
    assert report.plugin is None


def test_schema_problems_and_unknown_intent_are_reported_together(catalog: IntentCatalog) -> None:
    document = _raster(intent="ingest_lidar", uploader="", extra_key=1)
    report = _check(document, catalog)
    assert _locs(report) == [
        ("extra_key", "extra_forbidden"),
        ("intent", "unknown_intent"),
        ("uploader", "string_too_short"),
    ]
    assert report.known_intents == catalog.names()
    assert len(report.known_intents) == 4


def test_intent_conflict_names_both_plugins() -> None:
    catalog = _catalog_of(
        ("first_plugin", _OnePlugin("shared_intent")),
        ("second_plugin", _OnePlugin("shared_intent")),
    )
    report = _check(_raster(intent="shared_intent"), catalog)
    [problem] = report.problems
    assert (problem.loc, problem.code) == ("intent", "intent_conflict")
    assert "intent 'shared_intent' is registered by both" in problem.message
    assert "'first_plugin' (tests)" in problem.message
    assert "'second_plugin' (tests)" in problem.message
    assert report.plugin is None
    assert report.known_intents is None


# ----------------------------------------------------------------------------- files vs. intent


def test_file_type_not_accepted_by_the_intent(catalog: IntentCatalog) -> None:
    report = _check(_vector(intent=RASTER_INTENT), catalog)
    [problem] = report.problems
    assert (problem.loc, problem.code) == ("files[0].type", "type_not_accepted")
    assert problem.message == "intent 'ingest_satellite_raster' processes raster files, not vector"


def test_raster_file_for_the_vector_intent(catalog: IntentCatalog) -> None:
    report = _check(_raster(intent=VECTOR_INTENT), catalog)
    [problem] = report.problems
    assert (problem.loc, problem.code) == ("files[0].type", "type_not_accepted")
    assert problem.message == "intent 'ingest_vector_boundary' processes vector files, not raster"


def test_format_not_accepted_lists_the_accepted_drivers(catalog: IntentCatalog) -> None:
    document = _raster()
    document["files"][0] |= {"format": "PNG", "path": "s3://landing-zone/batch_r1/scene.png"}
    report = _check(document, catalog)
    [problem] = report.problems
    assert (problem.loc, problem.code) == ("files[0].format", "format_not_accepted")
    assert problem.message == (
        "intent 'ingest_satellite_raster' does not read 'PNG'; "
        "it reads COG, GTiff, JP2ECW, JP2KAK, JP2OpenJPEG"
    )


def test_each_file_is_checked_against_the_intent(catalog: IntentCatalog) -> None:
    document = _raster()
    document["files"] = [
        document["files"][0],
        {
            "path": "s3://landing-zone/batch_r1/b.png",
            "type": "raster",
            "format": "PNG",
            "crs": "EPSG:4326",
        },
        {
            "path": "s3://landing-zone/batch_r1/c.gpkg",
            "type": "vector",
            "format": "GPKG",
            "crs": "EPSG:4326",
        },
    ]
    report = _check(document, catalog)
    assert _locs(report) == [
        ("files[1].format", "format_not_accepted"),
        ("files[2].type", "type_not_accepted"),
    ]


def test_intent_problems_are_reported_beside_schema_problems(catalog: IntentCatalog) -> None:
    document = _raster(uploader="")
    document["files"][0] |= {"format": "GPKG", "path": "s3://landing-zone/batch_r1/scene.gpkg"}
    report = _check(document, catalog)
    assert _locs(report) == [
        ("files[0].format", "format_not_accepted"),
        ("uploader", "string_too_short"),
    ]
    assert report.plugin is not None


def test_format_rejected_by_the_schema_is_not_reported_twice(catalog: IntentCatalog) -> None:
    document = _raster()
    document["files"][0]["format"] = "gtiff"
    report = _check(document, catalog)
    assert _locs(report) == [("files[0].format", "value_error")]


# ----------------------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    ("parameters", "loc", "code", "message"),
    [
        pytest.param(
            {"bogus": 1},
            "metadata.parameters.bogus",
            "extra_forbidden",
            "unknown parameter 'bogus'; valid: target_crs, resampling, overview_resampling",
            id="unknown-key",
        ),
        pytest.param(
            {"target_cr": "EPSG:3857"},
            "metadata.parameters.target_cr",
            "extra_forbidden",
            "unknown parameter 'target_cr'; did you mean 'target_crs'?",
            id="mistyped-key",
        ),
        pytest.param(
            {"Resampling": "cubic"},
            "metadata.parameters.Resampling",
            "extra_forbidden",
            "did you mean 'resampling'?",
            id="wrong-case-key",
        ),
        pytest.param(
            {"target_crs": "+proj=merc"},
            "metadata.parameters.target_crs",
            "value_error",
            "PROJ strings are not accepted",
            id="proj-string-crs",
        ),
        pytest.param(
            {"target_crs": "EPSG:999999"},
            "metadata.parameters.target_crs",
            "value_error",
            "'EPSG:999999' is not a known CRS",
            id="unknown-crs",
        ),
        pytest.param(
            {"resampling": "sideways"},
            "metadata.parameters.resampling",
            "enum",
            "Input should be 'nearest', 'bilinear', 'cubic'",
            id="bad-resampling",
        ),
        pytest.param(
            {"overview_resampling": 3},
            "metadata.parameters.overview_resampling",
            "enum",
            "Input should be 'nearest'",
            id="bad-overview-resampling",
        ),
    ],
)
def test_bad_raster_parameters_are_located(
    catalog: IntentCatalog, parameters: dict[str, Any], loc: str, code: str, message: str
) -> None:
    report = _check(_with_parameters(_raster(), parameters), catalog)
    [problem] = report.problems
    assert (problem.loc, problem.code) == (loc, code)
    assert message in problem.message


def test_every_bad_parameter_is_reported(catalog: IntentCatalog) -> None:
    parameters = {"bogus": 1, "target_crs": "4326", "resampling": "sideways"}
    report = _check(_with_parameters(_raster(), parameters), catalog)
    assert _locs(report) == [
        ("metadata.parameters.bogus", "extra_forbidden"),
        ("metadata.parameters.resampling", "enum"),
        ("metadata.parameters.target_crs", "value_error"),
    ]


def test_bad_vector_parameter_is_located(catalog: IntentCatalog) -> None:
    report = _check(_with_parameters(_vector(), {"layer": ""}), catalog)
    [problem] = report.problems
    assert (problem.loc, problem.code) == ("metadata.parameters.layer", "string_too_short")


def test_parameters_for_an_intent_without_parameters() -> None:
    catalog = _catalog_of(("plain_plugin", _OnePlugin("plain_intent")))
    report = _check(_with_parameters(_raster(intent="plain_intent"), {"x": 1}), catalog)
    [problem] = report.problems
    assert (problem.loc, problem.code) == ("metadata.parameters", "no_parameters")
    assert problem.message == "intent 'plain_intent' takes no parameters"


def test_empty_parameters_for_an_intent_without_parameters_are_fine() -> None:
    catalog = _catalog_of(("plain_plugin", _OnePlugin("plain_intent")))
    report = _check(_with_parameters(_raster(intent="plain_intent"), {}), catalog)
    assert report.valid
    assert report.plugin == PluginInfo(name="plain_plugin", module="tests")


# ----------------------------------------------------------------------------- raw input


def test_invalid_json_reports_no_batch_or_intent(catalog: IntentCatalog) -> None:
    report = check_manifest("{not json", source="manifests/x.json", catalog=catalog)
    assert not report.valid
    assert report.batch_id is None
    assert report.intent is None
    assert _locs(report) == [("", "invalid_json")]


def test_batch_id_must_match_the_source(catalog: IntentCatalog) -> None:
    report = check_manifest(json.dumps(_raster()), source="manifests/other.json", catalog=catalog)
    assert _locs(report) == [("batch_id", "batch_id_mismatch")]
    assert report.batch_id == "batch_r1"


# ----------------------------------------------------------------------------- require_valid


def test_require_valid_raises_with_the_problems(catalog: IntentCatalog) -> None:
    report = _check(_raster(intent="ingest_lidar", uploader=""), catalog)
    with pytest.raises(ManifestError) as raised:
        require_valid(report)
    assert raised.value.problems == report.problems
    assert all(isinstance(problem, Problem) for problem in raised.value.problems)
    message = str(raised.value)
    assert message.startswith("manifest manifests/batch_r1.json is invalid:\n")
    assert "- intent: unknown intent 'ingest_lidar'" in message
    assert "- uploader: " in message


def test_require_valid_accepts_a_valid_report(catalog: IntentCatalog) -> None:
    require_valid(_check(_raster(), catalog))
