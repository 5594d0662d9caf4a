"""ingest_vector_features and ingest_raster_mosaic end to end: moto's S3 server, PostGIS, GDAL.

The data is generated here: points with attributes, lines with Z, a mixed layer, a
multi-layer GeoPackage, and a raster cut into a 2x2 tiling whose mosaic must equal it pixel
for pixel (GDAL's own checksums).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from spatial_etl.spatial_utils.rasterinfo import read_raster_info
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from support import (
    UTM_BOWTIE,
    UTM_CURVE,
    UTM_SQUARE,
    World,
    assert_ledger_valid,
    manifest,
    raster_file,
    sha256,
    vector_file,
)

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

FEATURES = "ingest_vector_features"
MOSAIC = "ingest_raster_mosaic"


def _geoparquet(world: World, key: str) -> tuple[Any, dict[str, Any]]:
    table = pq.read_table(world.download(key))
    return table, json.loads(table.schema.metadata[b"geo"])["columns"]["geometry"]


def _committed(world: World, asset_id: str) -> Any:
    doc = world.ledger.get_asset(asset_id)
    assert doc is not None
    assert doc.status == "committed"
    return doc


# ----------------------------------------------------------------------------- vector features


def test_points_with_attributes_become_2d_points_in_4326(
    world: World, make_vector: Callable[..., Path]
) -> None:
    rows = [
        {"wkt": "POINT (500000 5500000)", "name": "well a", "depth": "12.5"},
        {"wkt": "POINT (501000 5501000)", "name": "well b", "depth": "40"},
        {"wkt": "POINT (502000 5502000)", "name": "well c", "depth": ""},
    ]
    gpkg = make_vector("wells.gpkg", rows, crs="EPSG:32633")
    path = world.upload("wells_1", gpkg)
    report = world.run(manifest("wells_1", FEATURES, [vector_file(path, "GPKG")]))
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    assert output.dataset == "wells"
    assert output.feature_count == 3
    table, geo = _geoparquet(world, output.s3_key)
    assert geo["geometry_types"] == ["Point"]
    assert geo["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    assert table.column("name").to_pylist() == ["well a", "well b", "well c"]
    assert "etl_family" not in table.column_names
    assert "etl_fid" not in table.column_names
    doc = _committed(world, output.asset_id)
    assert doc.crs == "EPSG:4326"
    assert 14.9 < doc.bbox_wgs84[0] < 15.1
    assert_ledger_valid(world)


def test_lines_with_z_keep_z_unless_asked(world: World, make_vector: Callable[..., Path]) -> None:
    rows = [
        {"wkt": "LINESTRING Z (500000 5500000 10, 501000 5500500 12.5)", "road": "a"},
        {"wkt": "MULTILINESTRING Z ((500000 5501000 3, 501000 5501000 4))", "road": "b"},
    ]
    geojson = make_vector("roads.geojson", rows, driver="GeoJSON", crs="EPSG:32633")
    path = world.upload("roads_z", geojson)
    report = world.run(manifest("roads_z", FEATURES, [vector_file(path, "GeoJSON")]))
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    table, geo = _geoparquet(world, output.s3_key)
    # one family mixing single and multi parts is promoted to multi: one type per output
    assert geo["geometry_types"] == ["MultiLineString Z"]
    import shapely

    shapes = shapely.from_wkb(table.column("geometry").to_pylist())
    assert [round(c[2], 1) for c in shapely.get_coordinates(shapes[0], include_z=True)] == [
        10.0,
        12.5,
    ]
    flat = world.run(
        manifest(
            "roads_2d",
            FEATURES,
            [vector_file(world.upload("roads_2d", geojson), "GeoJSON")],
            parameters={"keep_z": False},
            dataset="roads_flat",
        )
    )
    assert flat.status == "succeeded", flat.error
    _, geo = _geoparquet(world, flat.outputs[0].s3_key)
    assert geo["geometry_types"] == ["MultiLineString"]


def test_mixed_layer_is_split_by_family_and_nulls_kept(
    world: World, make_vector: Callable[..., Path]
) -> None:
    rows = [
        {"wkt": "POINT (500000 5500000)", "id": "1"},
        {"wkt": UTM_SQUARE, "id": "2"},
        {"wkt": "LINESTRING (500000 5500000, 501000 5501000)", "id": "3"},
        {"wkt": UTM_BOWTIE, "id": "4"},
        {"wkt": "", "id": "5"},
        {"wkt": UTM_CURVE, "id": "6"},
    ]
    gpkg = make_vector("assets.gpkg", rows, crs="EPSG:32633", geometry_type="GEOMETRY")
    path = world.upload("assets_1", gpkg)
    report = world.run(manifest("assets_1", FEATURES, [vector_file(path, "GPKG")]))
    assert report.status == "succeeded", report.error
    by_dataset = {o.dataset: o for o in report.outputs}
    assert sorted(by_dataset) == ["assets_line", "assets_none", "assets_point", "assets_polygon"]
    counts = {name: o.feature_count for name, o in by_dataset.items()}
    assert counts == {"assets_line": 1, "assets_none": 1, "assets_point": 1, "assets_polygon": 3}
    polygons, geo = _geoparquet(world, by_dataset["assets_polygon"].s3_key)
    assert geo["geometry_types"] == ["MultiPolygon"]  # bowtie made valid, so all promoted
    import shapely

    shapes = shapely.from_wkb(polygons.column("geometry").to_pylist())
    assert all(shapely.is_valid(shapes))
    assert polygons.column("id").to_pylist() == ["2", "4", "6"]
    nulls, _ = _geoparquet(world, by_dataset["assets_none"].s3_key)
    assert nulls.column("geometry").to_pylist() == [None]
    doc = _committed(world, by_dataset["assets_point"].asset_id)
    assert [r.sha256 for r in doc.inputs] == [sha256(gpkg)]
    assert_ledger_valid(world)


def test_mixed_layer_is_refused_on_request_naming_the_rows(
    world: World, make_vector: Callable[..., Path]
) -> None:
    rows = [{"wkt": "POINT (500000 5500000)", "id": "1"}, {"wkt": UTM_SQUARE, "id": "2"}]
    gpkg = make_vector("mixed.gpkg", rows, crs="EPSG:32633", geometry_type="GEOMETRY")
    path = world.upload("mixed_1", gpkg)
    report = world.run(
        manifest(
            "mixed_1",
            FEATURES,
            [vector_file(path, "GPKG")],
            parameters={"mixed_geometries": "refuse"},
        )
    )
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.step == "refuse_mixed"
    assert "mixes points, lines and polygons" in report.error.message
    assert world.lake_keys() == []
    assert world.run_schemas() == []


def test_null_geometries_dropped_on_request_are_counted(
    world: World, make_vector: Callable[..., Path]
) -> None:
    rows = [{"wkt": "POINT (10 50)", "id": "1"}, {"wkt": "", "id": "2"}, {"wkt": "", "id": "3"}]
    gpkg = make_vector("sensors.gpkg", rows, crs="EPSG:4326", geometry_type="POINT")
    path = world.upload("sensors_1", gpkg)
    report = world.run(
        manifest(
            "sensors_1",
            FEATURES,
            [vector_file(path, "GPKG", "EPSG:4326")],
            parameters={"drop_null_geometries": True},
        )
    )
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    assert output.feature_count == 1
    doc = _committed(world, output.asset_id)
    steps = doc.iso19115.lineage.steps
    assert any(
        s.startswith("drop_null_geometries: ") and "(removed 2 features)" in s for s in steps
    ), steps


def test_every_layer_of_a_geopackage_is_its_own_dataset(
    world: World, make_vector: Callable[..., Path]
) -> None:
    gpkg = make_vector(
        "city.gpkg", [{"wkt": "POINT (500000 5500000)", "n": "p"}], crs="EPSG:32633", layer="trees"
    )
    make_vector(
        "city.gpkg",
        [{"wkt": "LINESTRING (500000 5500000, 501000 5501000)", "n": "l"}],
        crs="EPSG:32633",
        layer="streets",
        append_to=gpkg,
    )
    path = world.upload("city_1", gpkg)
    report = world.run(manifest("city_1", FEATURES, [vector_file(path, "GPKG")]))
    assert report.status == "succeeded", report.error
    assert sorted(o.dataset for o in report.outputs) == ["city_streets", "city_trees"]
    one = world.run(
        manifest(
            "city_2",
            FEATURES,
            [vector_file(world.upload("city_2", gpkg), "GPKG")],
            parameters={"layer": "streets"},
            dataset="streets",
        )
    )
    assert one.status == "succeeded", one.error
    assert [o.dataset for o in one.outputs] == ["streets"]


def test_an_attribute_table_beside_spatial_layers_is_no_dataset(
    world: World, make_vector: Callable[..., Path], tmp_path: Path
) -> None:
    gpkg = make_vector(
        "parks.gpkg", [{"wkt": "POINT (500000 5500000)", "n": "p"}], crs="EPSG:32633", layer="parks"
    )
    codes = tmp_path / "codes.csv"
    codes.write_text("code,label\n1,public\n2,private\n", encoding="utf-8")
    subprocess.run(
        ["ogr2ogr", "-update", "-f", "GPKG", str(gpkg), str(codes), "-nln", "codes"],
        check=True,
        capture_output=True,
    )
    path = world.upload("parks_1", gpkg)
    report = world.run(manifest("parks_1", FEATURES, [vector_file(path, "GPKG")]))
    assert report.status == "succeeded", report.error
    assert [(o.dataset, o.feature_count) for o in report.outputs] == [("parks", 1)]


def test_zipped_shapefile_of_points(
    world: World, make_vector: Callable[..., Path], tmp_path: Path
) -> None:
    import zipfile

    shp = make_vector(
        "stops.shp",
        [{"wkt": "POINT (500000 5500000)", "stop": "x"}],
        driver="ESRI Shapefile",
        crs="EPSG:32633",
    )
    archive = tmp_path / "stops.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in shp.parent.glob("stops.*"):
            if part != archive:
                zf.write(part, part.name)
    path = world.upload("stops_1", archive)
    report = world.run(manifest("stops_1", FEATURES, [vector_file(path, "ESRI Shapefile")]))
    assert report.status == "succeeded", report.error
    _, geo = _geoparquet(world, report.outputs[0].s3_key)
    assert geo["geometry_types"] == ["Point"]


# ----------------------------------------------------------------------------- raster mosaic


def _gradient(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A UTM raster whose every pixel differs from its neighbours (so tiles cannot be swapped)."""
    width, height = size
    grid = path.with_suffix(".asc")
    rows = [" ".join(str((x * 7 + y * 13) % 251) for x in range(width)) for y in range(height)]
    grid.write_text(
        f"ncols {width}\nnrows {height}\nxllcorner 500000\nyllcorner 5500000\ncellsize 10\n"
        "NODATA_value 255\n" + "\n".join(rows) + "\n"
    )
    subprocess.run(
        ["gdal_translate", "-q", "-ot", "Byte", "-a_srs", "EPSG:32633", str(grid), str(path)],
        check=True,
    )
    return path


def _tiles(source: Path, size: tuple[int, int] = (64, 48)) -> list[Path]:
    width, height = size
    half_w, half_h = width // 2, height // 2
    tiles = []
    for row in range(2):
        for col in range(2):
            tile = source.with_name(f"tile_{row}{col}.tif")
            window = [str(col * half_w), str(row * half_h), str(half_w), str(half_h)]
            subprocess.run(
                ["gdal_translate", "-q", "-srcwin", *window, str(source), str(tile)], check=True
            )
            tiles.append(tile)
    return tiles


def _checksum(path: Path) -> int:
    info = json.loads(
        subprocess.run(
            ["gdalinfo", "-json", "-checksum", str(path)], check=True, capture_output=True
        ).stdout
    )
    return int(info["bands"][0]["checksum"])


def test_a_2x2_tiling_mosaics_back_to_the_original(world: World, tmp_path: Path) -> None:
    original = _gradient(tmp_path / "scene.tif")
    tiles = _tiles(original)
    files = [raster_file(world.upload("scene_tiles", tile)) for tile in tiles]
    report = world.run(manifest("scene_tiles", MOSAIC, files, dataset="scene"))
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    assert output.s3_key == "ingest_raster_mosaic/scene/v1/scene.tif"
    cog = world.download(output.s3_key)
    info = read_raster_info(SubprocessGdalRunner(), str(cog))
    assert info.image_structure["LAYOUT"] == "COG"
    assert info.size == (64, 48)
    assert [(b.data_type, b.nodata) for b in info.bands] == [("Byte", 255.0)]
    assert _checksum(cog) == _checksum(original)
    doc = _committed(world, output.asset_id)
    assert sorted(r.sha256 for r in doc.inputs) == sorted(sha256(t) for t in tiles)
    for tile in tiles:
        assert tile.name in doc.iso19115.lineage.statement
    run = world.ledger.get_run(report.run_id)
    assert run is not None
    assert run.outputs == [output.asset_id]
    assert len(run.inputs) == 4
    assert_ledger_valid(world)
    again = world.run(manifest("scene_tiles", MOSAIC, files, dataset="scene"))
    assert again.status == "succeeded", again.error
    assert [o.status for o in again.outputs] == ["duplicate"]


def test_tiles_that_disagree_fail_naming_the_files(
    world: World, make_raster: Callable[..., Path], tmp_path: Path
) -> None:
    one = make_raster("a.tif", data_type="Byte", crs="EPSG:4326")
    two = make_raster(
        "b.tif",
        data_type="UInt16",
        bands=2,
        burn=(1, 2),
        crs="EPSG:4326",
        bounds=(10.64, 50.0, 11.28, 50.48),
    )
    files = [
        raster_file(world.upload("odd_tiles", one), "EPSG:4326"),
        raster_file(world.upload("odd_tiles", two), "EPSG:4326"),
    ]
    report = world.run(manifest("odd_tiles", MOSAIC, files))
    assert report.status == "failed"
    assert report.error is not None
    message = report.error.message
    assert "they differ in band count" in message
    assert "they differ in data type" in message
    assert "s3://landing-zone/odd_tiles/a.tif (Byte)" in message
    assert "s3://landing-zone/odd_tiles/b.tif (UInt16/UInt16)" in message
    assert world.lake_keys() == []


def test_flatgeobuf_polygons_are_made_valid(world: World, make_vector: Callable[..., Path]) -> None:
    fgb = make_vector(
        "plots.fgb",
        [{"wkt": UTM_BOWTIE, "plot": "b"}, {"wkt": UTM_SQUARE, "plot": "s"}],
        driver="FlatGeobuf",
        crs="EPSG:32633",
    )
    path = world.upload("plots_1", fgb)
    report = world.run(manifest("plots_1", FEATURES, [vector_file(path, "FlatGeobuf")]))
    assert report.status == "succeeded", report.error
    table, geo = _geoparquet(world, report.outputs[0].s3_key)
    assert geo["geometry_types"] == ["MultiPolygon"]
    import shapely

    shapes = shapely.from_wkb(table.column("geometry").to_pylist())
    assert all(shapely.is_valid(shapes))
    assert len(shapes[0].geoms) == 2  # the bowtie, split at its crossing


def test_a_mosaic_can_be_reprojected(world: World, tmp_path: Path) -> None:
    tiles = _tiles(_gradient(tmp_path / "scene.tif"))
    files = [raster_file(world.upload("warped_tiles", tile)) for tile in tiles]
    report = world.run(
        manifest("warped_tiles", MOSAIC, files, parameters={"target_crs": "EPSG:4326"})
    )
    assert report.status == "succeeded", report.error
    [output] = report.outputs
    assert output.dataset == "warped_tiles"
    doc = _committed(world, output.asset_id)
    assert doc.crs == "EPSG:4326"
    assert [s.split(":")[0] for s in doc.iso19115.lineage.steps] == [
        "mosaic",
        "reproject",
        "export",
    ]
