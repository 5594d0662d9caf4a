"""Hostile inputs end to end: each ends failed with a clear reason and nothing in the lake.

A sparse GeoTIFF claiming 1e10 pixels, a .dbf header claiming millions of records, bytes that
are not UTF-8 under a UTF-8 .cpg, garbage in a numeric field, a work directory without room;
and the legitimate neighbours of each still go through.
"""

from __future__ import annotations

import json
import struct
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from spatial_etl.run.executor import RunReport
from spatial_etl.spatial_utils.dbf import read_dbf_header
from support import World, assert_ledger_valid, manifest, raster_file, vector_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

OGR2OGR_UTF8_SHAPEFILE = (
    "ogr2ogr",
    "-f",
    "ESRI Shapefile",
    "-lco",
    "ENCODING=UTF-8",
    "-a_srs",
    "EPSG:32633",
)
CREATE_SCENE = ("gdal_create", "-outsize", "1000", "800", "-bands", "3", "-burn", "7", "9", "11")
UTM_BOUNDS = ("-a_ullr", "500000", "5510000", "510000", "5500000", "-a_srs", "EPSG:32633")


def assert_refused(world: World, report: RunReport, *texts: str) -> str:
    """Failed before any step, for the reasons given; nothing in the lake, no schema left."""
    assert report.status == "failed"
    assert report.error is not None
    message = report.error.message
    for text in texts:
        assert text in message, message
    assert report.error.step is None  # refused at inspection: no GDAL conversion ran
    assert report.outputs == []
    assert world.lake_keys() == []
    assert world.run_schemas() == []
    assert_ledger_valid(world)
    return message


def sparse_geotiff(path: Path, width: int, height: int) -> Path:
    """A tiled GeoTIFF whose tiles are all absent: a few hundred KB claiming any size."""
    subprocess.run(
        [
            "gdal_create",
            "-of",
            "GTiff",
            "-outsize",
            str(width),
            str(height),
            "-ot",
            "Byte",
            *UTM_BOUNDS,
            "-co",
            "TILED=YES",
            "-co",
            "BLOCKXSIZE=512",
            "-co",
            "BLOCKYSIZE=512",
            "-co",
            "SPARSE_OK=TRUE",
            "-co",
            "BIGTIFF=YES",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return path


def shapefile(directory: Path, rows: list[dict[str, Any]], name: str = "towns") -> Path:
    """A UTF-8 shapefile (with its .cpg) of squares with the given typed attributes."""
    directory.mkdir(parents=True, exist_ok=True)
    features = [
        {
            "type": "Feature",
            "properties": row,
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [
                        [500000 + 2000 * i, 5500000],
                        [501000 + 2000 * i, 5500000],
                        [501000 + 2000 * i, 5501000],
                        [500000 + 2000 * i, 5501000],
                        [500000 + 2000 * i, 5500000],
                    ]
                ],
            },
        }
        for i, row in enumerate(rows)
    ]
    source = directory / f"{name}.geojson"
    source.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    target = directory / f"{name}.shp"
    subprocess.run(
        [*OGR2OGR_UTF8_SHAPEFILE, str(target), str(source)],
        check=True,
        capture_output=True,
    )
    source.unlink()
    assert target.with_suffix(".cpg").read_text().strip() == "UTF-8"
    return target


def patch_value(dbf: Path, row: int, field: str, value: bytes) -> None:
    """Overwrite one value of a .dbf in place (``row`` 1-based), padded to its width."""
    data = bytearray(dbf.read_bytes())
    with dbf.open("rb") as stream:
        header = read_dbf_header(stream, str(dbf))
    [found] = [f for f in header.fields if f.name == field]
    start = header.header_length + (row - 1) * header.record_length + found.offset
    data[start : start + found.width] = value.ljust(found.width)
    dbf.write_bytes(bytes(data))


def zipped(shp: Path) -> Path:
    archive = shp.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in shp.parent.glob(f"{shp.stem}.*"):
            if part != archive:
                zf.write(part, part.name)
    return archive


def run_vector(world: World, batch: str, archive: Path) -> RunReport:
    path = world.upload(batch, archive)
    return world.run(
        manifest(batch, "ingest_vector_boundary", [vector_file(path, "ESRI Shapefile")])
    )


# ----------------------------------------------------------------------------- rasters


def test_a_sparse_geotiff_claiming_1e10_pixels_is_refused(world: World, tmp_path: Path) -> None:
    source = sparse_geotiff(tmp_path / "huge.tif", 100_000, 100_000)
    assert source.stat().st_size < 2_000_000

    path = world.upload("huge", source)
    report = world.run(manifest("huge", "ingest_satellite_raster", [raster_file(path)]))

    message = assert_refused(
        world,
        report,
        "s3://landing-zone/huge/huge.tif: the raster is 100000 x 100000 = 10000000000 pixels",
        "over the limit of 2000000000 pixels",
        "raise SPATIAL_ETL_LIMIT_RASTER_MAX_PIXELS to accept it",
    )
    assert "gdal_translate" not in message


def test_a_sparse_geotiff_under_the_pixel_limit_is_refused_for_its_expansion(
    world: World, tmp_path: Path
) -> None:
    source = sparse_geotiff(tmp_path / "hollow.tif", 40_000, 40_000)  # 1.6e9 pixels: allowed

    path = world.upload("hollow", source)
    report = world.run(manifest("hollow", "ingest_satellite_raster", [raster_file(path)]))

    assert_refused(
        world,
        report,
        f"expands to 1600000000 bytes from {source.stat().st_size} bytes on disk",
        "over the limit of 1000",
        "SPATIAL_ETL_LIMIT_RASTER_MAX_EXPANSION_RATIO",
    )


def test_limits_are_read_from_the_environment(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = sparse_geotiff(tmp_path / "wide.tif", 3000, 2000)
    monkeypatch.setenv("SPATIAL_ETL_LIMIT_RASTER_MAX_PIXELS", "5000000")

    path = world.upload("wide", source)
    report = world.run(manifest("wide", "ingest_satellite_raster", [raster_file(path)]))

    assert_refused(world, report, "3000 x 2000 = 6000000 pixels, over the limit of 5000000 pixels")


def test_a_legitimate_compressed_raster_still_goes_through(world: World, tmp_path: Path) -> None:
    source = tmp_path / "scene.tif"
    subprocess.run(
        [*CREATE_SCENE, *UTM_BOUNDS, "-co", "COMPRESS=DEFLATE", "-co", "TILED=YES", str(source)],
        check=True,
        capture_output=True,
    )

    path = world.upload("scene", source)
    report = world.run(manifest("scene", "ingest_satellite_raster", [raster_file(path)]))

    assert report.status == "succeeded", report.error
    assert world.data_keys() == ["ingest_satellite_raster/scene/v1/scene.tif"]


# ----------------------------------------------------------------------------- shapefiles


def test_a_dbf_header_claiming_millions_of_records_is_refused(world: World, tmp_path: Path) -> None:
    shp = shapefile(tmp_path / "src", [{"name": "Lyon", "area": 1.5}, {"name": "Metz", "area": 2}])
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[4:8] = struct.pack("<I", 5_000_000)
    dbf.write_bytes(bytes(data))

    report = run_vector(world, "claims", zipped(shp))

    assert_refused(
        world,
        report,
        "the .dbf header declares 5000000 records of",
        f"but the file holds {len(data)} bytes",
    )


def test_a_plain_shapefile_whose_shx_disagrees_with_its_dbf_is_refused(
    world: World, tmp_path: Path
) -> None:
    shp = shapefile(tmp_path / "src", [{"name": "Lyon"}, {"name": "Metz"}, {"name": "Nancy"}])
    dbf = shp.with_suffix(".dbf")
    data = bytearray(dbf.read_bytes())
    data[4:8] = struct.pack("<I", 2)  # one record fewer than the .shx indexes
    dbf.write_bytes(bytes(data))
    for part in shp.parent.glob("towns.*"):
        world.upload("shx", part)

    report = world.run(
        manifest(
            "shx",
            "ingest_vector_boundary",
            [vector_file("s3://landing-zone/shx/towns.shp", "ESRI Shapefile")],
        )
    )

    assert_refused(world, report, "the .shx indexes 3 shapes but the .dbf declares 2 records")


def test_latin1_bytes_under_a_utf8_cpg_fail_naming_field_and_row(
    world: World, tmp_path: Path
) -> None:
    shp = shapefile(tmp_path / "src", [{"name": "Lyon"}, {"name": "Metz"}, {"name": "Nancy"}])
    patch_value(shp.with_suffix(".dbf"), 2, "name", "Besançon".encode("latin-1"))

    report = run_vector(world, "latin", zipped(shp))

    assert_refused(
        world,
        report,
        "s3://landing-zone/latin/towns.zip (towns.dbf): field 'name', row 2: ",
        "b'\\xe7' are not valid utf-8",
    )


def test_garbage_in_a_numeric_field_fails_naming_field_and_row(
    world: World, tmp_path: Path
) -> None:
    rows = [{"name": "Lyon", "area": 1.5}, {"name": "Metz", "area": 2.25}]
    shp = shapefile(tmp_path / "src", rows)
    patch_value(shp.with_suffix(".dbf"), 2, "area", b"2,25 km2")

    report = run_vector(world, "garbage", zipped(shp))

    assert_refused(world, report, "field 'area', row 2: b'2,25 km2", "is not a number")


def test_a_utf8_shapefile_with_accents_and_nulls_still_goes_through(
    world: World, tmp_path: Path
) -> None:
    rows = [{"name": "Mâcon", "area": 1.5}, {"name": "Besançon", "area": None}]
    shp = shapefile(tmp_path / "src", rows)

    report = run_vector(world, "accents", zipped(shp))

    assert report.status == "succeeded", report.error
    [output] = report.outputs
    table = pq.read_table(world.download(output.s3_key))
    assert sorted(table.column("name").to_pylist()) == ["Besançon", "Mâcon"]
    assert sorted(table.column("area").to_pylist(), key=str) == [1.5, None]


# ----------------------------------------------------------------------------- staging


def test_a_work_directory_without_room_refuses_before_downloading(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = sparse_geotiff(tmp_path / "small.tif", 512, 512)
    monkeypatch.setenv("SPATIAL_ETL_STAGING_MIN_FREE_MB", str(10**12))  # an exabyte

    path = world.upload("room", source)
    report = world.run(manifest("room", "ingest_satellite_raster", [raster_file(path)]))

    assert_refused(
        world,
        report,
        f"{source.stat().st_size} bytes to download",
        "must stay free (SPATIAL_ETL_STAGING_MIN_FREE_MB)",
    )
    assert not list(tmp_path.rglob("input_*/small.tif"))
