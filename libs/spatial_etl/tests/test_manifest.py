"""The manifest contract: the protocol's example, every rejection rule, all problems at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pyproj import CRS
from spatial_etl import FileType
from spatial_etl.errors import ManifestError
from spatial_etl.models import Manifest, Problem

BATCH = "batch_XYZ"
NAME = f"manifests/{BATCH}.json"
RAW_IMAGE = f"s3://landing-zone/{BATCH}/raw_image.tif"


def _file(**changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "path": RAW_IMAGE,
        "type": "raster",
        "format": "GTiff",
        "crs": "EPSG:4326",
    }
    item.update(changes)
    return item


def _document(**changes: Any) -> dict[str, Any]:
    """The upload protocol's example manifest, with ``changes`` applied at the top level."""
    document: dict[str, Any] = {
        "batch_id": BATCH,
        "uploader": "alice@example.org",
        "intent": "ingest_satellite_raster",
        "files": [_file()],
        "metadata": {
            "project": "GREEN_ROOFS",
            "description": "Raw drone imagery of the city centre",
            "flight": "2024-05-02",
        },
    }
    document.update(changes)
    return document


def _problems(
    data: dict[str, Any] | list[Any] | str | bytes, name: str | None = NAME
) -> list[Problem]:
    text = data if isinstance(data, str | bytes) else json.dumps(data)
    with pytest.raises(ManifestError) as raised:
        Manifest.from_json(text, name=name)
    problems = [problem for problem in raised.value.problems if isinstance(problem, Problem)]
    assert len(problems) == len(raised.value.problems), "every problem is a Problem"
    return problems


def _only_problem(
    data: dict[str, Any] | list[Any] | str | bytes, name: str | None = NAME
) -> Problem:
    problems = _problems(data, name)
    assert len(problems) == 1, problems
    return problems[0]


# ------------------------------------------------------------------- the protocol's example


def test_the_protocols_example_manifest_is_valid() -> None:
    manifest = Manifest.from_json(json.dumps(_document()), name=NAME)
    assert manifest.batch_id == "batch_XYZ"
    assert manifest.uploader == "alice@example.org"
    assert manifest.intent == "ingest_satellite_raster"
    [item] = manifest.files
    assert item.path == "s3://landing-zone/batch_XYZ/raw_image.tif"
    assert item.type is FileType.RASTER
    assert item.format == "GTiff"
    assert item.crs == "EPSG:4326"
    assert item.landing.bucket == "landing-zone"
    assert item.landing.batch_id == "batch_XYZ"
    assert item.landing.key == "batch_XYZ/raw_image.tif"
    assert item.landing.name == "raw_image.tif"
    assert manifest.metadata.project == "GREEN_ROOFS"
    assert manifest.metadata.description == "Raw drone imagery of the city centre"
    assert manifest.metadata.dataset is None
    assert manifest.metadata.parameters == {}


def test_extra_metadata_keys_are_kept_as_user_metadata() -> None:
    manifest = Manifest.from_json(json.dumps(_document()), name=NAME)
    assert manifest.metadata.extra == {"flight": "2024-05-02"}


def test_bytes_and_no_name_are_accepted() -> None:
    manifest = Manifest.from_json(json.dumps(_document()).encode(), name=None)
    assert manifest.batch_id == BATCH


def test_name_may_be_a_bare_file_name() -> None:
    assert Manifest.from_json(json.dumps(_document()), name="batch_XYZ.json").batch_id == BATCH


def test_dataset_and_parameters_are_interpreted() -> None:
    metadata = {
        "project": "P",
        "description": "",
        "dataset": "roofs.v2",
        "parameters": {"target_crs": "EPSG:3857"},
    }
    manifest = Manifest.from_json(json.dumps(_document(metadata=metadata)), name=NAME)
    assert manifest.metadata.dataset == "roofs.v2"
    assert manifest.metadata.parameters == {"target_crs": "EPSG:3857"}
    assert manifest.metadata.extra == {}


# ----------------------------------------------------------------------------- batch id


@pytest.mark.parametrize(
    ("batch_id", "message"),
    [
        pytest.param("batch XYZ", "must be 1-128 characters of letters", id="space"),
        pytest.param("batch..XYZ", "must not contain '..'", id="dot-dot"),
        pytest.param("-batch", "starting with a letter or digit", id="leading-dash"),
        pytest.param("_batch", "starting with a letter or digit", id="leading-underscore"),
        pytest.param(
            "manifests", "'manifests' is reserved for the manifests folder", id="reserved"
        ),
        pytest.param("a" * 129, "must be 1-128 characters", id="too-long"),
        pytest.param("", "must be 1-128 characters", id="empty"),
        pytest.param("batch/XYZ", "must be 1-128 characters", id="slash"),
    ],
)
def test_unsafe_batch_id_is_rejected(batch_id: str, message: str) -> None:
    problem = _only_problem(_document(batch_id=batch_id), name=None)
    assert problem.loc == "batch_id"
    assert problem.code == "value_error"
    assert message in problem.message


def test_batch_id_of_128_characters_is_accepted() -> None:
    batch_id = "a" * 128
    document = _document(
        batch_id=batch_id, files=[_file(path=f"s3://landing-zone/{batch_id}/x.tif")]
    )
    assert Manifest.from_json(json.dumps(document), name=f"{batch_id}.json").batch_id == batch_id


def test_batch_id_must_equal_the_manifest_file_name() -> None:
    problem = _only_problem(_document(), name="manifests/other.json")
    assert problem.loc == "batch_id"
    assert problem.code == "batch_id_mismatch"
    assert problem.message == ("batch_id 'batch_XYZ' must equal the manifest's file name ('other')")


# ----------------------------------------------------------------------------- top-level keys


def test_unknown_top_level_key_is_rejected() -> None:
    problem = _only_problem(_document(priority="high"))
    assert (problem.loc, problem.code) == ("priority", "extra_forbidden")
    assert "Extra inputs are not permitted" in problem.message


def test_unknown_file_key_is_rejected() -> None:
    problem = _only_problem(_document(files=[_file(size=12)]))
    assert (problem.loc, problem.code) == ("files[0].size", "extra_forbidden")


def test_missing_keys_are_each_reported() -> None:
    problems = _problems({"batch_id": BATCH})
    assert {(p.loc, p.code) for p in problems} == {
        ("uploader", "missing"),
        ("intent", "missing"),
        ("files", "missing"),
        ("metadata", "missing"),
    }
    assert all(p.message == "Field required" for p in problems)


def test_missing_file_keys_are_each_reported() -> None:
    problems = _problems(_document(files=[{"path": RAW_IMAGE}]))
    assert {(p.loc, p.code) for p in problems} == {
        ("files[0].type", "missing"),
        ("files[0].format", "missing"),
        ("files[0].crs", "missing"),
    }


@pytest.mark.parametrize("uploader", ["", "   "], ids=["empty", "blank"])
def test_empty_uploader_is_rejected(uploader: str) -> None:
    problem = _only_problem(_document(uploader=uploader))
    assert (problem.loc, problem.code) == ("uploader", "string_too_short")


@pytest.mark.parametrize(
    "intent",
    ["Ingest", "ingest-raster", "1ingest", "", "a" * 64, "ingest raster"],
    ids=["upper", "dash", "digit-first", "empty", "too-long", "space"],
)
def test_bad_intent_name_is_rejected(intent: str) -> None:
    problem = _only_problem(_document(intent=intent))
    assert (problem.loc, problem.code) == ("intent", "string_pattern_mismatch")
    assert "^[a-z][a-z0-9_]{0,62}$" in problem.message


def test_empty_files_list_is_rejected() -> None:
    problem = _only_problem(_document(files=[]))
    assert (problem.loc, problem.code) == ("files", "too_short")
    assert "at least 1 item" in problem.message


# ----------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param(
            "s3://data-lake/batch_XYZ/x.tif",
            "bucket 'data-lake' is not allowed; files must be in 'landing-zone'",
            id="other-bucket",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ/../other/x.tif",
            "'.' and '..' segments are not allowed",
            id="dot-dot-segment",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ/./x.tif",
            "'.' and '..' segments are not allowed",
            id="dot-segment",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ//x.tif",
            "path has an empty segment ('//' or a trailing '/')",
            id="empty-segment",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ/dir/",
            "path has an empty segment ('//' or a trailing '/')",
            id="trailing-slash",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ",
            "path must name a file inside a batch folder: s3://landing-zone/<batch_id>/<file>",
            id="batch-folder-only",
        ),
        pytest.param(
            "/data/x.tif",
            "absolute local paths are not allowed; use s3://landing-zone/...",
            id="absolute",
        ),
        pytest.param(
            "/vsis3/landing-zone/batch_XYZ/x.tif",
            "GDAL virtual file system paths (/vsi...) are not allowed; use s3://",
            id="vsis3",
        ),
        pytest.param(
            "/vsizip//vsis3/landing-zone/batch_XYZ/x.zip/x.shp",
            "GDAL virtual file system paths (/vsi...) are not allowed; use s3://",
            id="vsizip",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ//vsicurl/http://x/y.tif",
            "path has an empty segment ('//' or a trailing '/')",
            id="vsi-inside",
        ),
        pytest.param(
            "PG:dbname=x",
            "database connection strings (PG:) are not allowed; upload files",
            id="pg",
        ),
        pytest.param(
            "pg:dbname=x",
            "database connection strings (PG:) are not allowed",
            id="pg-lower-case",
        ),
        pytest.param(
            "https://host/x.tif",
            "URL scheme 'https:' is not allowed; use s3://",
            id="https",
        ),
        pytest.param("file:///x", "URL scheme 'file:' is not allowed; use s3://", id="file-url"),
        pytest.param("C:\\x.tif", "backslashes are not allowed in paths", id="windows"),
        pytest.param(
            "s3://landing-zone/batch_XYZ/dir\\x.tif",
            "backslashes are not allowed in paths",
            id="backslash",
        ),
        pytest.param(
            " s3://landing-zone/batch_XYZ/x.tif",
            "path has leading or trailing whitespace",
            id="leading-space",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ/x.tif\n",
            "path has leading or trailing whitespace",
            id="trailing-newline",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ/x\x00.tif",
            "path contains control characters",
            id="nul",
        ),
        pytest.param(
            "s3://landing-zone/batch_XYZ/x\x1b.tif",
            "path contains control characters",
            id="escape",
        ),
        pytest.param("", "path is empty", id="empty"),
        pytest.param(
            "landing-zone/batch_XYZ/x.tif",
            "path must start with s3://landing-zone/",
            id="no-scheme",
        ),
    ],
)
def test_bad_path_is_rejected(path: str, message: str) -> None:
    problem = _only_problem(_document(files=[_file(path=path)]))
    assert (problem.loc, problem.code) == ("files[0].path", "value_error")
    assert message in problem.message


def test_path_outside_the_batch_folder_is_rejected() -> None:
    problem = _only_problem(_document(files=[_file(path="s3://landing-zone/other_batch/x.tif")]))
    assert (problem.loc, problem.code) == ("files[0].path", "batch_folder")
    assert problem.message == "path must be inside the batch folder s3://landing-zone/batch_XYZ/"


def test_path_in_a_sub_folder_of_the_batch_is_accepted() -> None:
    path = f"s3://landing-zone/{BATCH}/tiles/2024/a.tif"
    manifest = Manifest.from_json(json.dumps(_document(files=[_file(path=path)])), name=NAME)
    assert manifest.files[0].landing.key == "batch_XYZ/tiles/2024/a.tif"
    assert manifest.files[0].landing.name == "a.tif"


def test_key_segment_starting_with_vsi_is_an_ordinary_name() -> None:
    path = f"s3://landing-zone/{BATCH}/vsizip/vsi_scan.tif"
    manifest = Manifest.from_json(json.dumps(_document(files=[_file(path=path)])), name=NAME)
    assert manifest.files[0].landing.name == "vsi_scan.tif"


def test_duplicate_path_is_rejected_on_the_second_listing() -> None:
    problem = _only_problem(_document(files=[_file(), _file()]))
    assert (problem.loc, problem.code) == ("files[1].path", "duplicate_path")
    assert problem.message == "path is already listed as files[0]"


# ----------------------------------------------------------------------------- type and format


@pytest.mark.parametrize(
    "kind", ["pointcloud", "Raster", ""], ids=["other", "capitalised", "empty"]
)
def test_type_must_be_raster_or_vector(kind: str) -> None:
    problem = _only_problem(_document(files=[_file(type=kind)]))
    assert (problem.loc, problem.code) == ("files[0].type", "enum")
    assert "'raster' or 'vector'" in problem.message


@pytest.mark.parametrize(
    ("driver", "message"),
    [
        pytest.param(
            "gtiff", "'gtiff' is not a GDAL driver short name (did you mean 'GTiff'?)", id="case"
        ),
        pytest.param("GeoTIFF", "'GeoTIFF' is not a GDAL driver short name", id="unknown"),
        pytest.param(
            "PostgreSQL",
            "'PostgreSQL' is a database or web-service driver, not a file format",
            id="postgresql",
        ),
        pytest.param(
            "WFS", "'WFS' is a database or web-service driver, not a file format", id="wfs"
        ),
    ],
)
def test_format_must_be_a_file_driver(driver: str, message: str) -> None:
    problem = _only_problem(_document(files=[_file(format=driver)]))
    assert (problem.loc, problem.code) == ("files[0].format", "value_error")
    assert problem.message == message


def test_unknown_format_without_a_near_match_has_no_hint() -> None:
    problem = _only_problem(_document(files=[_file(format="GeoTIFF")]))
    assert "did you mean" not in problem.message


def test_format_must_read_the_declared_type() -> None:
    problem = _only_problem(_document(files=[_file(type="vector")]))
    assert (problem.loc, problem.code) == ("files[0]", "value_error")
    assert problem.message == "format 'GTiff' does not read vector data"


def test_driver_reading_both_types_accepts_either() -> None:
    for kind in ("raster", "vector"):
        item = _file(type=kind, format="GPKG", path=f"s3://landing-zone/{BATCH}/x.gpkg")
        manifest = Manifest.from_json(json.dumps(_document(files=[item])), name=NAME)
        assert manifest.files[0].type.value == kind


@pytest.mark.parametrize("name", ["x.dbf", "x.prj", "x.gpkg"], ids=["dbf", "prj", "gpkg"])
def test_shapefile_must_be_declared_by_its_shp_or_zip(name: str) -> None:
    item = _file(type="vector", format="ESRI Shapefile", path=f"s3://landing-zone/{BATCH}/{name}")
    problem = _only_problem(_document(files=[item]))
    assert (problem.loc, problem.code) == ("files[0]", "value_error")
    assert (
        "a Shapefile is declared by its .shp (sidecars beside it) or by a .zip" in problem.message
    )


@pytest.mark.parametrize(
    "name", ["x.shp", "X.SHP", "x.zip", "x.shz"], ids=["shp", "upper", "zip", "shz"]
)
def test_shapefile_declared_by_shp_or_archive_is_accepted(name: str) -> None:
    item = _file(type="vector", format="ESRI Shapefile", path=f"s3://landing-zone/{BATCH}/{name}")
    manifest = Manifest.from_json(json.dumps(_document(files=[item])), name=NAME)
    assert manifest.files[0].format == "ESRI Shapefile"


# ----------------------------------------------------------------------------- crs


@pytest.mark.parametrize(
    ("crs", "message"),
    [
        pytest.param("EPSG:999999", "'EPSG:999999' is not a known CRS (", id="unknown-code"),
        pytest.param(
            "+proj=longlat +datum=WGS84",
            "PROJ strings are not accepted; use an authority code such as EPSG:4326, "
            "WKT or PROJJSON",
            id="proj-string",
        ),
        pytest.param("4326", "'4326' is not an authority code, WKT or PROJJSON", id="bare-number"),
        pytest.param("", "CRS is empty", id="empty"),
        pytest.param("   ", "CRS is empty", id="blank"),
        pytest.param(
            "nonsense", "'nonsense' is not an authority code, WKT or PROJJSON", id="nonsense"
        ),
        pytest.param('{"type": "nothing"}', "is not a known CRS (", id="bad-projjson"),
    ],
)
def test_bad_crs_is_rejected(crs: str, message: str) -> None:
    problem = _only_problem(_document(files=[_file(crs=crs)]))
    assert (problem.loc, problem.code) == ("files[0].crs", "value_error")
    assert message in problem.message


@pytest.mark.parametrize(
    "crs",
    [
        pytest.param("EPSG:32633", id="utm"),
        pytest.param("OGC:CRS84", id="crs84"),
        pytest.param(CRS.from_epsg(4326).to_wkt(), id="wkt"),
        pytest.param(CRS.from_epsg(4326).to_json(), id="projjson"),
    ],
)
def test_good_crs_is_accepted(crs: str) -> None:
    manifest = Manifest.from_json(json.dumps(_document(files=[_file(crs=crs)])), name=NAME)
    assert manifest.files[0].crs == crs


def test_crs_is_stripped() -> None:
    manifest = Manifest.from_json(
        json.dumps(_document(files=[_file(crs=" EPSG:3857 ")])), name=NAME
    )
    assert manifest.files[0].crs == "EPSG:3857"


# ----------------------------------------------------------------------------- metadata


def test_metadata_requires_project() -> None:
    problem = _only_problem(_document(metadata={"description": "x"}))
    assert (problem.loc, problem.code) == ("metadata.project", "missing")


def test_metadata_requires_description() -> None:
    problem = _only_problem(_document(metadata={"project": "P"}))
    assert (problem.loc, problem.code) == ("metadata.description", "missing")


def test_metadata_project_must_not_be_blank() -> None:
    problem = _only_problem(_document(metadata={"project": " ", "description": ""}))
    assert (problem.loc, problem.code) == ("metadata.project", "string_too_short")


@pytest.mark.parametrize(
    "dataset", ["-roofs", "roofs/2024", "roofs 2024", ""], ids=["dash", "slash", "space", "empty"]
)
def test_metadata_dataset_must_be_one_key_segment(dataset: str) -> None:
    metadata = {"project": "P", "description": "", "dataset": dataset}
    problem = _only_problem(_document(metadata=metadata))
    assert (problem.loc, problem.code) == ("metadata.dataset", "string_pattern_mismatch")


def test_metadata_parameters_must_be_an_object() -> None:
    metadata = {"project": "P", "description": "", "parameters": ["EPSG:3857"]}
    problem = _only_problem(_document(metadata=metadata))
    assert (problem.loc, problem.code) == ("metadata.parameters", "dict_type")


# ----------------------------------------------------------------------------- JSON


def test_invalid_json_is_reported_at_the_document() -> None:
    problem = _only_problem('{"batch_id": ')
    assert (problem.loc, problem.code) == ("", "invalid_json")
    assert problem.message.startswith("not valid JSON: ")


def test_invalid_utf8_is_reported_as_invalid_json() -> None:
    problem = _only_problem(b'{"batch_id": "\xff"}')
    assert (problem.loc, problem.code) == ("", "invalid_json")


def test_json_array_is_not_a_manifest() -> None:
    problem = _only_problem([_document()])
    assert (problem.loc, problem.code) == ("", "not_an_object")
    assert problem.message == "expected a JSON object, got list"


def test_duplicate_json_keys_are_rejected() -> None:
    text = json.dumps(_document()).replace('"uploader"', '"intent": "x", "uploader"', 1)
    problem = _only_problem(text)
    assert (problem.loc, problem.code) == ("", "invalid_json")
    assert "duplicate key(s) 'intent'" in problem.message


def test_duplicate_keys_in_nested_objects_are_rejected() -> None:
    text = json.dumps(_document()).replace('"project"', '"description": "y", "project"', 1)
    problem = _only_problem(text)
    assert (problem.loc, problem.code) == ("", "invalid_json")
    assert "duplicate key(s) 'description'" in problem.message


def test_error_message_lists_each_problem() -> None:
    with pytest.raises(ManifestError) as raised:
        Manifest.from_json(json.dumps(_document(uploader="", files=[])), name=NAME)
    message = str(raised.value)
    assert message.startswith("manifest is invalid:\n")
    assert "- uploader: " in message
    assert "- files: " in message


# ----------------------------------------------------------------------------- all at once


def test_every_problem_is_reported_at_once() -> None:
    document = _document(
        uploader="",
        intent="Bad-Intent",
        colour="blue",
        files=[
            _file(path="s3://landing-zone/other_batch/fine.tif"),  # valid but in another batch
            _file(path=f"s3://landing-zone/{BATCH}/b.tif", crs="+proj=longlat"),
            _file(path=f"s3://landing-zone/{BATCH}/c.tif", format="gtiff"),
            _file(path=f"s3://landing-zone/{BATCH}/c.tif"),  # duplicate of files[2]
            _file(path="/vsis3/landing-zone/batch_XYZ/d.tif"),
        ],
        metadata={"description": "x", "dataset": "../up"},
    )
    problems = _problems(document)
    assert sorted((p.loc, p.code) for p in problems) == sorted(
        [
            ("uploader", "string_too_short"),
            ("intent", "string_pattern_mismatch"),
            ("colour", "extra_forbidden"),
            ("files[0].path", "batch_folder"),
            ("files[1].crs", "value_error"),
            ("files[2].format", "value_error"),
            ("files[3].path", "duplicate_path"),
            ("files[4].path", "value_error"),
            ("metadata.project", "missing"),
            ("metadata.dataset", "string_pattern_mismatch"),
        ]
    )
    assert len(problems) == 10


def test_batch_folder_error_is_reported_beside_another_files_error() -> None:
    document = _document(
        files=[
            _file(path="s3://landing-zone/elsewhere/a.tif"),
            _file(path=f"s3://landing-zone/{BATCH}/b.tif", type="vector"),
        ]
    )
    problems = _problems(document)
    assert sorted((p.loc, p.code) for p in problems) == [
        ("files[0].path", "batch_folder"),
        ("files[1]", "value_error"),
    ]
    by_loc = {p.loc: p.message for p in problems}
    assert by_loc["files[1]"] == "format 'GTiff' does not read vector data"


def test_wrong_batch_id_and_batch_folder_are_both_reported() -> None:
    document = _document(files=[_file(path="s3://landing-zone/elsewhere/a.tif")])
    problems = _problems(document, name="manifests/other.json")
    assert sorted((p.loc, p.code) for p in problems) == [
        ("batch_id", "batch_id_mismatch"),
        ("files[0].path", "batch_folder"),
    ]


# ----------------------------------------------------------------------------- JSON Schema


def test_json_schema_carries_the_rules() -> None:
    schema = Manifest.model_json_schema()
    assert schema["additionalProperties"] is False
    assert schema["properties"]["batch_id"]["pattern"] == "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
    assert schema["properties"]["intent"]["pattern"] == "^[a-z][a-z0-9_]{0,62}$"
    assert schema["properties"]["files"]["minItems"] == 1
    assert set(schema["required"]) == {"batch_id", "uploader", "intent", "files", "metadata"}
    file_schema = schema["$defs"]["ManifestFile"]
    assert file_schema["additionalProperties"] is False
    path_pattern = file_schema["properties"]["path"]["pattern"]
    assert path_pattern == "^s3://landing-zone/[A-Za-z0-9][A-Za-z0-9_.-]{0,127}/.+$"
    formats = file_schema["properties"]["format"]["enum"]
    assert "GTiff" in formats
    assert "ESRI Shapefile" in formats
    assert "PostgreSQL" not in formats
    assert "WFS" not in formats
    assert formats == sorted(formats)
    metadata_schema = schema["$defs"]["ManifestMetadata"]
    assert set(metadata_schema["required"]) == {"project", "description"}
