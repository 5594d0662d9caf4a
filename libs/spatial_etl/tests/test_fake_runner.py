"""FakeGdalRunner: the scripted stand-in for the GDAL runner (no GDAL needed)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest
from spatial_etl import GeometryKind
from spatial_etl.errors import GdalCommandError, GdalError, GdalNotFoundError
from spatial_etl.spatial_utils.rasterinfo import read_raster_info
from spatial_etl.spatial_utils.runner import CommandResult, GdalRunner
from spatial_etl.spatial_utils.vectorinfo import read_vector_info
from spatial_etl.testing import FakeGdalRunner

GDALINFO_JSON = json.dumps(
    {
        "description": "/vsis3/landing-zone/batch/dem.tif",
        "driverShortName": "GTiff",
        "driverLongName": "GeoTIFF",
        "size": [200, 100],
        "coordinateSystem": {"wkt": 'GEOGCRS["WGS 84",ID["EPSG",4326]]'},
        "geoTransform": [10.0, 0.005, 0.0, 51.0, 0.0, -0.005],
        "metadata": {
            "": {"AREA_OR_POINT": "Area"},
            "IMAGE_STRUCTURE": {"COMPRESSION": "DEFLATE", "INTERLEAVE": "BAND", "LAYOUT": "COG"},
        },
        "wgs84Extent": {
            "type": "Polygon",
            "coordinates": [[[10.0, 51.0], [10.0, 50.5], [11.0, 50.5], [11.0, 51.0], [10.0, 51.0]]],
        },
        "bands": [
            {
                "band": 1,
                "block": [512, 512],
                "type": "Float32",
                "colorInterpretation": "Gray",
                "noDataValue": "NaN",
                "overviews": [{"size": [100, 50]}, {"size": [50, 25]}],
            }
        ],
    }
)

OGRINFO_TEXT = """\
INFO: Open of `/vsis3/landing-zone/batch/parcels.gpkg'
      using driver `GPKG' successful.

Layer name: parcels
Geometry: Multi Polygon
Feature Count: 12
Extent: (10.000000, 50.000000) - (11.500000, 50.750000)
Layer SRS WKT:
GEOGCRS["WGS 84",
    ID["EPSG",4326]]
Data axis to CRS axis mapping: 2,1
FID Column = fid
Geometry Column = geom
parcel_id: Integer64 (0.0) NOT NULL
owner: String (80.0)
area: Real (0.0)
"""


def _failure(returncode: int = 1) -> FakeGdalRunner:
    return FakeGdalRunner().respond(
        "gdalinfo",
        "*.tif",
        stderr="ERROR 4: x.tif: No such file or directory",
        returncode=returncode,
    )


def test_calls_are_recorded_in_order() -> None:
    fake = FakeGdalRunner().respond("gdalinfo").respond("ogr2ogr")

    fake.run(["gdalinfo", "a.tif"])
    fake.run(["ogr2ogr", "-f", "GPKG", "out.gpkg", "in.geojson"])
    fake.run(["gdalinfo", "-json", "b.tif"])

    assert fake.calls == [
        ("gdalinfo", "a.tif"),
        ("ogr2ogr", "-f", "GPKG", "out.gpkg", "in.geojson"),
        ("gdalinfo", "-json", "b.tif"),
    ]


def test_result_looks_like_the_real_runners() -> None:
    fake = FakeGdalRunner().respond("gdalinfo", stdout="GDAL 3.6.2\n", stderr="note")

    result = fake.run(["gdalinfo", "--version"], timeout_s=5, env={"CPL_DEBUG": "ON"})

    assert isinstance(result, CommandResult)
    assert result == CommandResult(
        argv=("gdalinfo", "--version"),
        returncode=0,
        stdout="GDAL 3.6.2\n",
        stderr="note",
        duration_s=0.0,
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["gdalinfo", "scene.tif"], "tif", id="tif-pattern"),
        pytest.param(["gdalinfo", "-json", "/vsis3/b/k/scene.tif"], "tif", id="any-argument"),
        pytest.param(["gdalinfo", "scene.jp2"], "any", id="fallback"),
        pytest.param(["gdalinfo", "scene.TIF"], "any", id="case-sensitive"),
        pytest.param(["ogrinfo", "scene.tif"], "ogr", id="other-program"),
    ],
)
def test_responses_match_by_program_and_glob(argv: list[str], expected: str) -> None:
    fake = (
        FakeGdalRunner()
        .respond("gdalinfo", "*.tif", stdout="tif")
        .respond("gdalinfo", stdout="any")
        .respond("ogrinfo", stdout="ogr")
    )

    assert fake.run(argv).stdout == expected


def test_every_pattern_must_match_some_argument() -> None:
    fake = (
        FakeGdalRunner()
        .respond("ogr2ogr", "-f", "GPKG", "*.gpkg", stdout="to-gpkg")
        .respond("ogr2ogr", stdout="other")
    )

    assert fake.run(["ogr2ogr", "-f", "GPKG", "out.gpkg", "in.shp"]).stdout == "to-gpkg"
    assert fake.run(["ogr2ogr", "-f", "GPKG", "out.sqlite", "in.shp"]).stdout == "other"
    assert fake.run(["ogr2ogr", "-f", "FlatGeobuf", "out.gpkg", "in.shp"]).stdout == "other"


def test_patterns_match_arguments_not_the_program() -> None:
    fake = FakeGdalRunner().respond("gdalinfo", "gdal*", stdout="matched")

    with pytest.raises(GdalNotFoundError):
        fake.run(["gdalinfo", "scene.tif"])
    assert fake.run(["gdalinfo", "gdal_scene.tif"]).stdout == "matched"


def test_first_matching_response_wins() -> None:
    fake = (
        FakeGdalRunner()
        .respond("gdalinfo", "*.tif", stdout="first")
        .respond("gdalinfo", "scene.tif", stdout="second")
    )

    assert fake.run(["gdalinfo", "scene.tif"]).stdout == "first"
    assert fake.run(["gdalinfo", "scene.tif"]).stdout == "first"


def test_non_zero_returncode_raises_like_the_real_runner() -> None:
    fake = _failure(returncode=4)

    with pytest.raises(GdalCommandError) as caught:
        fake.run(["gdalinfo", "x.tif"])

    error = caught.value
    assert type(error) is GdalCommandError
    assert isinstance(error, GdalError)
    assert error.returncode == 4
    assert error.argv == ["gdalinfo", "x.tif"]
    assert error.stderr_tail == "ERROR 4: x.tif: No such file or directory"
    assert str(error) == "gdalinfo exited with status 4: ERROR 4: x.tif: No such file or directory"
    assert fake.calls == [("gdalinfo", "x.tif")]


def test_non_zero_returncode_without_stderr_says_so() -> None:
    fake = FakeGdalRunner().respond("ogr2ogr", returncode=1)

    with pytest.raises(GdalCommandError, match=r"status 1: \(no output on stderr\)"):
        fake.run(["ogr2ogr", "out.gpkg", "in.shp"])


def test_check_false_returns_the_failed_result() -> None:
    fake = _failure()

    result = fake.run(["gdalinfo", "x.tif"], check=False)

    assert result.returncode == 1
    assert result.stderr == "ERROR 4: x.tif: No such file or directory"
    assert result.argv == ("gdalinfo", "x.tif")


@pytest.mark.parametrize(
    ("scripted", "argv"),
    [
        pytest.param(FakeGdalRunner(), ["gdalinfo", "x.tif"], id="nothing-scripted"),
        pytest.param(
            FakeGdalRunner().respond("gdalinfo"), ["ogrinfo", "x.gpkg"], id="other-program"
        ),
        pytest.param(
            FakeGdalRunner().respond("gdalinfo", "*.tif"), ["gdalinfo", "x.jp2"], id="no-pattern"
        ),
    ],
)
def test_unscripted_command_is_reported_with_its_argv(
    scripted: FakeGdalRunner, argv: list[str]
) -> None:
    with pytest.raises(GdalNotFoundError) as caught:
        scripted.run(argv)

    assert str(argv) in str(caught.value)
    assert "no response scripted" in str(caught.value)
    assert scripted.calls == [tuple(argv)]


@pytest.mark.parametrize("program", ["ls", "bash", "gdal_info", ""])
def test_respond_refuses_programs_that_are_not_gdal(program: str) -> None:
    fake = FakeGdalRunner()

    with pytest.raises(ValueError, match="not a GDAL program"):
        fake.respond(program)


def test_respond_accepts_every_runner_program() -> None:
    fake = FakeGdalRunner()
    for program in ("gdalinfo", "ogrinfo", "ogr2ogr", "gdal_translate", "gdalwarp", "gdaladdo"):
        assert fake.respond(program) is fake


def test_empty_command_raises_a_gdal_error_like_the_real_runner() -> None:
    fake = FakeGdalRunner().respond("gdalinfo")

    with pytest.raises(GdalError):
        fake.run([])


def test_effect_is_called_with_the_argv(tmp_path: Path) -> None:
    seen: list[list[str]] = []

    def write_output(argv: Sequence[str]) -> None:
        seen.append(list(argv))
        Path(argv[-1]).write_bytes(b"fake gpkg")

    target = tmp_path / "out.gpkg"
    fake = FakeGdalRunner().respond("ogr2ogr", "*.gpkg", effect=write_output)

    result = fake.run(["ogr2ogr", "-f", "GPKG", "in.geojson", str(target)])

    assert result.returncode == 0
    assert seen == [["ogr2ogr", "-f", "GPKG", "in.geojson", str(target)]]
    assert target.read_bytes() == b"fake gpkg"


def test_effect_is_not_called_for_other_commands(tmp_path: Path) -> None:
    seen: list[Sequence[str]] = []
    fake = (
        FakeGdalRunner()
        .respond("ogr2ogr", "*.gpkg", effect=seen.append)
        .respond("ogr2ogr", stdout="other")
    )

    fake.run(["ogr2ogr", "out.fgb", "in.geojson"])

    assert seen == []


def test_fake_is_usable_where_a_runner_is_expected() -> None:
    def version(runner: GdalRunner) -> str:
        return runner.run(["gdalinfo", "--version"]).stdout.strip()

    fake = FakeGdalRunner().respond("gdalinfo", "--version", stdout="GDAL 3.6.2, released\n")

    assert version(fake) == "GDAL 3.6.2, released"


def test_read_raster_info_through_the_fake() -> None:
    path = "/vsis3/landing-zone/batch/dem.tif"
    fake = FakeGdalRunner().respond("gdalinfo", "-json", "*.tif", stdout=GDALINFO_JSON)

    info = read_raster_info(fake, path)

    assert fake.calls == [("gdalinfo", "-json", "-nofl", path)]
    assert info.description == path
    assert info.driver == "GTiff"
    assert info.size == (200, 100)
    assert info.crs_wkt == 'GEOGCRS["WGS 84",ID["EPSG",4326]]'
    assert info.geo_transform == (10.0, 0.005, 0.0, 51.0, 0.0, -0.005)
    assert info.wgs84_bbox == (10.0, 50.5, 11.0, 51.0)
    assert info.image_structure == {"COMPRESSION": "DEFLATE", "INTERLEAVE": "BAND", "LAYOUT": "COG"}
    assert info.band_count == 1
    band = info.bands[0]
    assert band.band == 1
    assert band.data_type == "Float32"
    assert band.color_interpretation == "Gray"
    assert band.block == (512, 512)
    assert band.overview_count == 2
    assert band.nodata is not None
    assert math.isnan(band.nodata)
    assert band.same_nodata(float("nan"))


def test_read_vector_info_through_the_fake() -> None:
    path = "/vsis3/landing-zone/batch/parcels.gpkg"
    fake = FakeGdalRunner().respond("ogrinfo", "*.gpkg", stdout=OGRINFO_TEXT)

    info = read_vector_info(fake, path)

    assert fake.calls == [("ogrinfo", "-ro", "-so", "-al", "-nomd", "-wkt_format", "WKT2", path)]
    assert info.driver == "GPKG"
    layer = info.layer()
    assert layer.name == "parcels"
    assert layer.geometry_type == "Multi Polygon"
    assert layer.geometry_kind is GeometryKind.POLYGON
    assert layer.feature_count == 12
    assert layer.extent == (10.0, 50.0, 11.5, 50.75)
    assert layer.crs_wkt == 'GEOGCRS["WGS 84",\n    ID["EPSG",4326]]'
    assert layer.fid_column == "fid"
    assert layer.geometry_column == "geom"
    assert [(f.name, f.type, f.width, f.nullable) for f in layer.fields] == [
        ("parcel_id", "Integer64", 0, False),
        ("owner", "String", 80, True),
        ("area", "Real", 0, True),
    ]


def test_reader_failure_through_the_fake_raises_the_command_error() -> None:
    fake = FakeGdalRunner().respond(
        "ogrinfo", stderr="FAILURE: Unable to open datasource", returncode=1
    )

    with pytest.raises(GdalCommandError, match="Unable to open datasource"):
        read_vector_info(fake, "/vsis3/landing-zone/batch/broken.gpkg")
