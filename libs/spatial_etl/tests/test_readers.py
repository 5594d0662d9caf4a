"""gdalinfo/ogrinfo readers: real tools on generated data, plus canned text for edge cases."""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from spatial_etl import GeometryKind
from spatial_etl.errors import GdalCommandError, GdalOutputError
from spatial_etl.spatial_utils.rasterinfo import (
    BandInfo,
    RasterInfo,
    parse_raster_info,
    read_raster_info,
)
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.spatial_utils.vectorinfo import VectorInfo, parse_vector_info, read_vector_info

SQUARE = "POLYGON((0 0,1 0,1 1,0 1,0 0))"
BIG_SQUARE = "POLYGON((0 0,4 0,4 3,0 3,0 0))"
BUCKET = "landing-zone"


@pytest.fixture
def runner() -> SubprocessGdalRunner:
    return SubprocessGdalRunner(timeout_s=60)


def _write_json(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def _feature(geometry: dict[str, Any], **properties: object) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


# ============================================================================= raster, real


@pytest.mark.gdal
def test_float32_nan_nodata(runner: SubprocessGdalRunner, make_raster: Callable[..., Path]) -> None:
    path = make_raster("nan.tif", data_type="Float32", nodata=float("nan"), burn=(1.5,))

    info = read_raster_info(runner, str(path))

    assert info.band_count == 1
    band = info.bands[0]
    assert band.data_type == "Float32"
    assert band.nodata is not None
    assert math.isnan(band.nodata)
    assert band.same_nodata(float("nan"))
    assert not band.same_nodata(0.0)
    assert not band.same_nodata(None)


@pytest.mark.gdal
def test_three_band_byte_raster_in_utm(
    runner: SubprocessGdalRunner, make_raster: Callable[..., Path]
) -> None:
    path = make_raster(
        "utm.tif",
        bands=3,
        burn=(7, 8, 9),
        nodata=0,
        crs="EPSG:32633",
        bounds=(500000.0, 5500000.0, 500640.0, 5500480.0),
    )

    info = read_raster_info(runner, str(path))

    assert info.description == str(path)
    assert info.driver == "GTiff"
    assert info.size == (64, 48)
    assert info.band_count == 3
    assert [b.band for b in info.bands] == [1, 2, 3]
    assert {b.data_type for b in info.bands} == {"Byte"}
    assert all(b.nodata == 0.0 and b.same_nodata(0) for b in info.bands)
    assert all(b.overview_count == 0 for b in info.bands)
    assert info.crs_wkt is not None
    assert 'ID["EPSG",32633]' in info.crs_wkt
    assert "UTM zone 33N" in info.crs_wkt
    assert info.geo_transform == (500000.0, 10.0, 0.0, 5500480.0, 0.0, -10.0)
    assert info.wgs84_bbox is not None
    west, south, east, north = info.wgs84_bbox
    # Easting 500 000 is zone 33's central meridian, 15°E; northing 5 500 000 m is ~49.65°N.
    assert west == pytest.approx(15.0, abs=1e-6)
    assert east == pytest.approx(15.0089, abs=1e-3)
    assert south == pytest.approx(49.6525, abs=1e-3)
    assert north == pytest.approx(49.6569, abs=1e-3)
    assert west < east
    assert south < north
    assert info.image_structure["INTERLEAVE"] == "PIXEL"
    assert "LAYOUT" not in info.image_structure


@pytest.mark.gdal
def test_raster_without_crs(runner: SubprocessGdalRunner, make_raster: Callable[..., Path]) -> None:
    path = make_raster("nocrs.tif", crs=None, bounds=(10.0, 50.0, 11.0, 51.0), size=(8, 8))

    info = read_raster_info(runner, str(path))

    assert info.crs_wkt is None
    assert info.wgs84_extent is None
    assert info.wgs84_bbox is None
    assert info.geo_transform == (10.0, 0.125, 0.0, 51.0, 0.0, -0.125)
    assert info.bands[0].nodata is None
    assert info.bands[0].same_nodata(None)


@pytest.mark.gdal
def test_tiled_geotiff_reports_its_block_size(
    runner: SubprocessGdalRunner, make_raster: Callable[..., Path]
) -> None:
    path = make_raster(
        "tiled.tif", size=(64, 48), options=("TILED=YES", "BLOCKXSIZE=32", "BLOCKYSIZE=16")
    )

    info = read_raster_info(runner, str(path))

    assert info.bands[0].block == (32, 16)


@pytest.mark.gdal
def test_cog_layout_and_overviews(
    runner: SubprocessGdalRunner, make_raster: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_raster("big.tif", size=(2048, 2048), bounds=(10.0, 50.0, 11.0, 51.0))
    cog = tmp_path / "big_cog.tif"

    runner.run(["gdal_translate", "-q", "-of", "COG", str(source), str(cog)])
    plain = read_raster_info(runner, str(source))
    info = read_raster_info(runner, str(cog))

    assert info.image_structure["LAYOUT"] == "COG"
    assert info.image_structure["COMPRESSION"] == "LZW"
    # The COG driver adds overviews until one fits a 512-pixel block: 1024, then 512.
    assert info.bands[0].overview_count == 2
    assert info.bands[0].block == (512, 512)
    assert info.size == (2048, 2048)
    assert "LAYOUT" not in plain.image_structure
    assert plain.bands[0].overview_count == 0


@pytest.mark.gdal
def test_reading_a_missing_raster_raises_the_command_error(
    runner: SubprocessGdalRunner, tmp_path: Path
) -> None:
    with pytest.raises(GdalCommandError, match="No such file"):
        read_raster_info(runner, str(tmp_path / "missing.tif"))


# ============================================================================= vector, real


@pytest.fixture
def two_layer_gpkg(make_vector: Callable[..., Path]) -> Path:
    path = make_vector(
        "two.gpkg",
        [
            {"wkt": SQUARE, "code": "A1", "name": "first"},
            {"wkt": BIG_SQUARE, "code": "B2", "name": "second"},
        ],
        layer="one",
        geometry_type="POLYGON",
    )
    make_vector(
        "two.gpkg",
        [{"wkt": SQUARE, "label": label} for label in ("x", "y", "z")],
        layer="two",
        geometry_type="POLYGON",
        append_to=path,
    )
    return path


@pytest.mark.gdal
def test_geopackage_with_two_layers(runner: SubprocessGdalRunner, two_layer_gpkg: Path) -> None:
    info = read_vector_info(runner, str(two_layer_gpkg))

    assert info.driver == "GPKG"
    assert [layer.name for layer in info.layers] == ["one", "two"]
    one, two = info.layers
    assert one.feature_count == 2
    assert two.feature_count == 3
    for layer in info.layers:
        assert layer.geometry_type == "Polygon"
        assert layer.geometry_kind is GeometryKind.POLYGON
        assert layer.fid_column == "fid"
        assert layer.geometry_column == "geom"
        assert layer.crs_wkt is not None
        assert 'ID["EPSG",4326]' in layer.crs_wkt
        assert layer.crs_wkt.endswith("]]")
    assert one.extent == (0.0, 0.0, 4.0, 3.0)
    assert two.extent == (0.0, 0.0, 1.0, 1.0)
    # make_vector writes through CSV, so every attribute is a String.
    assert [(f.name, f.type) for f in one.fields] == [("code", "String"), ("name", "String")]
    assert [(f.name, f.type) for f in two.fields] == [("label", "String")]


@pytest.mark.gdal
def test_choosing_a_layer_of_a_two_layer_source(
    runner: SubprocessGdalRunner, two_layer_gpkg: Path
) -> None:
    info = read_vector_info(runner, str(two_layer_gpkg))

    with pytest.raises(LookupError) as unnamed:
        info.layer()
    assert "2 layers" in str(unnamed.value)
    assert "one, two" in str(unnamed.value)

    assert info.layer("two").name == "two"
    assert info.layer("two").feature_count == 3

    with pytest.raises(LookupError) as unknown:
        info.layer("nope")
    assert "'nope'" in str(unknown.value)
    assert "one, two" in str(unknown.value)


@pytest.mark.gdal
def test_typed_fields(runner: SubprocessGdalRunner, tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [1.0, 2.0]}
    source = _write_json(
        tmp_path / "typed.geojson",
        {
            "type": "FeatureCollection",
            "features": [
                _feature(point, n=1, x=1.5, s="a", b=True, d="2024-01-02", big=12345678901),
                _feature(point, n=2, x=2.5, s="b", b=False, d="2024-02-03", big=1),
            ],
        },
    )
    target = tmp_path / "typed.gpkg"
    runner.run(["ogr2ogr", "-f", "GPKG", str(target), str(source), "-nln", "typed"])

    layer = read_vector_info(runner, str(target)).layer()

    assert [(f.name, f.type, f.subtype) for f in layer.fields] == [
        ("n", "Integer", None),
        ("x", "Real", None),
        ("s", "String", None),
        ("b", "Integer", "Boolean"),
        ("d", "Date", None),
        ("big", "Integer64", None),
    ]
    assert layer.geometry_kind is GeometryKind.POINT


@pytest.mark.gdal
def test_not_null_and_width_from_a_vrt(runner: SubprocessGdalRunner, tmp_path: Path) -> None:
    point = {"type": "Point", "coordinates": [1.0, 2.0]}
    _write_json(
        tmp_path / "src.geojson",
        {"type": "FeatureCollection", "features": [_feature(point, n=1, s="a", x=1.5)]},
    )
    vrt = tmp_path / "typed.vrt"
    vrt.write_text(
        '<OGRVRTDataSource><OGRVRTLayer name="v">'
        '<SrcDataSource relativeToVRT="1">src.geojson</SrcDataSource><SrcLayer>src</SrcLayer>'
        '<Field name="n" type="Integer" nullable="false"/>'
        '<Field name="s" type="String" width="12"/>'
        '<Field name="x" type="Real" subtype="Float32"/>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )

    info = read_vector_info(runner, str(vrt))

    assert info.driver == "OGR_VRT"
    fields = {f.name: f for f in info.layer("v").fields}
    assert (fields["n"].type, fields["n"].nullable) == ("Integer", False)
    assert (fields["s"].type, fields["s"].width, fields["s"].nullable) == ("String", 12, True)
    assert (fields["x"].type, fields["x"].subtype) == ("Real", "Float32")


@pytest.mark.gdal
def test_shapefile_without_prj_has_no_crs(
    runner: SubprocessGdalRunner, make_vector: Callable[..., Path]
) -> None:
    path = make_vector(
        "parcels.shp",
        [{"wkt": SQUARE, "code": "A1"}, {"wkt": BIG_SQUARE, "code": "B2"}],
        driver="ESRI Shapefile",
        crs=None,
        geometry_type="POLYGON",
    )
    assert not path.with_suffix(".prj").exists()

    info = read_vector_info(runner, str(path))

    assert info.driver == "ESRI Shapefile"
    layer = info.layer()
    assert layer.name == "parcels"
    assert layer.crs_wkt is None
    assert layer.feature_count == 2
    assert layer.extent == (0.0, 0.0, 4.0, 3.0)
    assert layer.geometry_kind is GeometryKind.POLYGON
    assert layer.fid_column is None
    assert layer.geometry_column is None
    assert [(f.name, f.type, f.width) for f in layer.fields] == [("code", "String", 80)]


@pytest.mark.gdal
def test_zipped_shapefile_through_vsizip(
    runner: SubprocessGdalRunner, make_vector: Callable[..., Path], tmp_path: Path
) -> None:
    shp = make_vector(
        "roads.shp",
        [{"wkt": "LINESTRING(0 0,1 1)", "id": "1"}, {"wkt": "LINESTRING(1 1,2 0)", "id": "2"}],
        driver="ESRI Shapefile",
        geometry_type="LINESTRING",
    )
    archive = tmp_path / "roads.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for suffix in (".shp", ".shx", ".dbf", ".prj"):
            part = shp.with_suffix(suffix)
            zipped.write(part, part.name)

    info = read_vector_info(runner, f"/vsizip/{archive}")

    assert info.driver == "ESRI Shapefile"
    layer = info.layer()
    assert layer.name == "roads"
    assert layer.feature_count == 2
    assert layer.geometry_kind is GeometryKind.LINE
    assert layer.crs_wkt is not None
    assert 'ID["EPSG",4326]' in layer.crs_wkt
    assert layer.extent == (0.0, 0.0, 2.0, 1.0)


@pytest.mark.gdal
@pytest.mark.parametrize(
    ("wkt", "geometry_type", "expected"),
    [
        pytest.param("POINT(1 2)", "POINT", ("Point", GeometryKind.POINT), id="point"),
        pytest.param("POINT(1 2 3)", "POINTZ", ("3D Point", GeometryKind.POINT), id="point-z"),
        pytest.param(
            "MULTIPOINT((1 2),(3 4))",
            "MULTIPOINT",
            ("Multi Point", GeometryKind.POINT),
            id="multipoint",
        ),
        pytest.param(
            "LINESTRING(0 0,1 1)", "LINESTRING", ("Line String", GeometryKind.LINE), id="line"
        ),
        pytest.param(
            "MULTIPOLYGON(((0 0,1 0,1 1,0 0)))",
            "MULTIPOLYGON",
            ("Multi Polygon", GeometryKind.POLYGON),
            id="multipolygon",
        ),
        pytest.param(
            "CURVEPOLYGON(CIRCULARSTRING(0 0, 1 1, 2 0, 1 -1, 0 0))",
            "CURVEPOLYGON",
            ("Curve Polygon", GeometryKind.POLYGON),
            id="curvepolygon",
        ),
    ],
)
def test_geometry_kind_of_a_geopackage_layer(
    runner: SubprocessGdalRunner,
    make_vector: Callable[..., Path],
    wkt: str,
    geometry_type: str,
    expected: tuple[str, GeometryKind],
) -> None:
    path = make_vector("shapes.gpkg", [{"wkt": wkt, "k": "1"}], geometry_type=geometry_type)

    layer = read_vector_info(runner, str(path)).layer("shapes")

    assert (layer.geometry_type, layer.geometry_kind) == expected
    assert layer.feature_count == 1


@pytest.mark.gdal
def test_geojson_with_mixed_geometries_has_no_kind(
    runner: SubprocessGdalRunner, tmp_path: Path
) -> None:
    path = _write_json(
        tmp_path / "mixed.geojson",
        {
            "type": "FeatureCollection",
            "features": [
                _feature({"type": "Point", "coordinates": [1, 2]}, n=1),
                _feature(
                    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}, n=2
                ),
            ],
        },
    )

    info = read_vector_info(runner, str(path))

    assert info.driver == "GeoJSON"
    layer = info.layer()
    assert layer.name == "mixed"
    assert layer.geometry_type == "Unknown (any)"
    assert layer.geometry_kind is None
    assert layer.feature_count == 2
    assert layer.extent == (0.0, 0.0, 1.0, 2.0)


@pytest.mark.gdal
def test_reading_a_missing_vector_raises_the_command_error(
    runner: SubprocessGdalRunner, tmp_path: Path
) -> None:
    with pytest.raises(GdalCommandError):
        read_vector_info(runner, str(tmp_path / "missing.gpkg"))


# ============================================================================= /vsis3/


@pytest.fixture
def s3_client() -> Any:
    import boto3  # type: ignore[import-untyped]

    endpoint = os.environ.get("SPATIAL_ETL_S3_ENDPOINT_URL")
    assert endpoint, "mark the test with @pytest.mark.s3"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def s3_prefix(s3_client: Any) -> Iterator[str]:
    prefix = f"tests/{uuid.uuid4().hex}"
    yield prefix
    listed = s3_client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    for item in listed.get("Contents", []):
        s3_client.delete_object(Bucket=BUCKET, Key=item["Key"])


@pytest.fixture
def s3_runner() -> SubprocessGdalRunner:
    endpoint = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    return SubprocessGdalRunner(
        timeout_s=60,
        env={
            "AWS_S3_ENDPOINT": endpoint.netloc,
            "AWS_HTTPS": "NO",
            "AWS_VIRTUAL_HOSTING": "FALSE",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
        },
    )


@pytest.mark.s3
@pytest.mark.gdal
def test_raster_info_through_vsis3(
    s3_client: Any,
    s3_prefix: str,
    s3_runner: SubprocessGdalRunner,
    make_raster: Callable[..., Path],
) -> None:
    path = make_raster("remote.tif", size=(40, 30), bands=2, burn=(1, 2))
    key = f"{s3_prefix}/remote.tif"
    s3_client.upload_file(str(path), BUCKET, key)

    info = read_raster_info(s3_runner, f"/vsis3/{BUCKET}/{key}")

    assert info.description == f"/vsis3/{BUCKET}/{key}"
    assert info.size == (40, 30)
    assert info.band_count == 2
    assert info.crs_wkt is not None
    assert 'ID["EPSG",4326]' in info.crs_wkt


@pytest.mark.s3
@pytest.mark.gdal
def test_vector_info_through_vsis3(
    s3_client: Any,
    s3_prefix: str,
    s3_runner: SubprocessGdalRunner,
    two_layer_gpkg: Path,
) -> None:
    key = f"{s3_prefix}/two.gpkg"
    s3_client.upload_file(str(two_layer_gpkg), BUCKET, key)

    info = read_vector_info(s3_runner, f"/vsis3/{BUCKET}/{key}")

    assert info.driver == "GPKG"
    assert [(layer.name, layer.feature_count) for layer in info.layers] == [("one", 2), ("two", 3)]
    assert info.layer("one").geometry_kind is GeometryKind.POLYGON


@pytest.mark.s3
@pytest.mark.gdal
def test_missing_object_through_vsis3_raises_the_command_error(
    s3_client: Any, s3_prefix: str, s3_runner: SubprocessGdalRunner
) -> None:
    with pytest.raises(GdalCommandError) as caught:
        read_raster_info(s3_runner, f"/vsis3/{BUCKET}/{s3_prefix}/absent.tif")

    assert caught.value.returncode != 0
    assert "absent.tif" in caught.value.stderr_tail


# ============================================================================= canned raster


def _gdalinfo(**overrides: object) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "description": "x.tif",
        "driverShortName": "GTiff",
        "size": [10, 20],
        "bands": [{"band": 1, "type": "Byte"}],
    }
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("ERROR 4: x.tif: No such file or directory", id="error-text"),
        pytest.param('{"description": "x.tif",', id="truncated"),
        pytest.param("[1, 2]", id="array"),
        pytest.param('{"size": [1, 1], "size": [2, 2]}', id="duplicate-key"),
    ],
)
def test_parse_raster_info_refuses_what_is_not_a_json_object(text: str) -> None:
    with pytest.raises(GdalOutputError, match="did not print a JSON object"):
        parse_raster_info(text)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param({"description": "x.tif"}, id="only-description"),
        pytest.param({k: v for k, v in _gdalinfo().items() if k != "size"}, id="no-size"),
        pytest.param(
            {k: v for k, v in _gdalinfo().items() if k != "driverShortName"}, id="no-driver"
        ),
        pytest.param(_gdalinfo(size="big"), id="bad-size"),
        pytest.param(_gdalinfo(bands=[{"type": "Byte"}]), id="band-without-number"),
    ],
)
def test_parse_raster_info_refuses_json_missing_required_keys(raw: dict[str, Any]) -> None:
    with pytest.raises(GdalOutputError, match="unexpected gdalinfo output"):
        parse_raster_info(json.dumps(raw))


def test_parse_raster_info_minimal() -> None:
    info = parse_raster_info(json.dumps(_gdalinfo()))

    assert info == RasterInfo.model_validate(
        {
            "description": "x.tif",
            "driverShortName": "GTiff",
            "size": [10, 20],
            "bands": [{"band": 1, "type": "Byte"}],
        }
    )
    assert info.size == (10, 20)
    assert info.crs_wkt is None
    assert info.geo_transform is None
    assert info.wgs84_bbox is None
    assert info.image_structure == {}
    assert info.band_count == 1
    assert info.bands[0].nodata is None
    assert info.bands[0].overview_count == 0


def test_parse_raster_info_empty_crs_wkt_is_none() -> None:
    info = parse_raster_info(json.dumps(_gdalinfo(coordinateSystem={"wkt": ""})))

    assert info.crs_wkt is None


@pytest.mark.parametrize(
    ("value", "check"),
    [
        pytest.param("NaN", math.isnan, id="nan"),
        pytest.param("Infinity", lambda v: v == math.inf, id="inf"),
        pytest.param("-Infinity", lambda v: v == -math.inf, id="minus-inf"),
        pytest.param(-9999.0, lambda v: v == -9999.0, id="number"),
        pytest.param(0, lambda v: v == 0.0, id="zero"),
    ],
)
def test_parse_raster_info_nodata_values(value: object, check: Callable[[float], bool]) -> None:
    raw = _gdalinfo(bands=[{"band": 1, "type": "Float32", "noDataValue": value}])

    nodata = parse_raster_info(json.dumps(raw)).bands[0].nodata

    assert nodata is not None
    assert check(nodata)


@pytest.mark.parametrize(
    ("nodata", "other", "same"),
    [
        pytest.param(None, None, True, id="none-none"),
        pytest.param(None, 0.0, False, id="none-zero"),
        pytest.param(0.0, None, False, id="zero-none"),
        pytest.param(math.nan, math.nan, True, id="nan-nan"),
        pytest.param(math.nan, 0.0, False, id="nan-zero"),
        pytest.param(0.0, math.nan, False, id="zero-nan"),
        pytest.param(-9999.0, -9999, True, id="equal"),
        pytest.param(255.0, 0.0, False, id="different"),
        pytest.param(math.inf, math.inf, True, id="inf-inf"),
    ],
)
def test_same_nodata(nodata: float | None, other: float | None, same: bool) -> None:
    band = BandInfo.model_validate({"band": 1, "type": "Float32", "noDataValue": nodata})

    assert band.same_nodata(other) is same


# ============================================================================= canned vector

MULTI_GEOMETRY_TEXT = """\
INFO: Open of `multi.csv'
      using driver `CSV' successful.

Layer name: multi
Geometry (geom1): Polygon
Geometry (geom2): Point
Feature Count: 1
Extent (geom1): (0.000000, -1.500000) - (1.000000, 1.000000)
Extent (geom2): (5.000000, 5.000000) - (5.000000, 5.000000)
SRS WKT (geom1):
GEOGCRS["WGS 84",
    ID["EPSG",4326]]
SRS WKT (geom2):
(unknown)
Geometry Column 1 = geom1
Geometry Column 2 = geom2
k: String (0.0)
"""


def test_parse_vector_info_multiple_geometry_columns_takes_the_first() -> None:
    info = parse_vector_info(MULTI_GEOMETRY_TEXT)

    assert info.driver == "CSV"
    layer = info.layer()
    assert layer.name == "multi"
    assert layer.geometry_type == "Polygon"
    assert layer.geometry_kind is GeometryKind.POLYGON
    assert layer.geometry_column == "geom1"
    assert layer.extent == (0.0, -1.5, 1.0, 1.0)
    assert layer.crs_wkt == 'GEOGCRS["WGS 84",\n    ID["EPSG",4326]]'
    assert layer.feature_count == 1
    assert [(f.name, f.type) for f in layer.fields] == [("k", "String")]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param(
            "FAILURE:\nUnable to open datasource `x.gpkg' with the following drivers.\n  -> GPKG\n",
            id="failure",
        ),
        pytest.param("Layer name: orphan\nGeometry: Point\nFeature Count: 1\n", id="no-header"),
    ],
)
def test_parse_vector_info_without_driver_line(text: str) -> None:
    with pytest.raises(GdalOutputError, match="names no driver"):
        parse_vector_info(text)


def test_parse_vector_info_source_without_layers() -> None:
    info = parse_vector_info("INFO: Open of `empty.gpkg'\n      using driver `GPKG' successful.\n")

    assert info == VectorInfo(driver="GPKG", layers=())
    with pytest.raises(LookupError, match=r"0 layers \(none\)"):
        info.layer()
    with pytest.raises(LookupError, match="layers: none"):
        info.layer("x")


def test_parse_vector_info_unknown_count_and_attribute_table() -> None:
    text = """\
INFO: Open of `PG:dbname=x'
      using driver `PostgreSQL' successful.

Layer name: public.codes
Geometry: None
Feature Count: -1
FID Column = ogc_fid
code: String (10.0) NOT NULL
flag: Integer(Boolean) (0.0)
ratio: Real(Float32) (0.0) DEFAULT 1.5
label with space: String (0.0)
"""

    layer = parse_vector_info(text).layer("public.codes")

    assert layer.geometry_type == "None"
    assert layer.geometry_kind is None
    assert layer.feature_count is None
    assert layer.extent is None
    assert layer.crs_wkt is None
    assert layer.fid_column == "ogc_fid"
    assert layer.geometry_column is None
    assert [(f.name, f.type, f.subtype, f.width, f.nullable) for f in layer.fields] == [
        ("code", "String", None, 10, False),
        ("flag", "Integer", "Boolean", 0, True),
        ("ratio", "Real", "Float32", 0, True),
        ("label with space", "String", None, 0, True),
    ]
