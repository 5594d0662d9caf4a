"""The core's checks of an input against its manifest entry, on files real GDAL reads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import spatial_etl_satellite_raster
import spatial_etl_vector_boundary
from spatial_etl.errors import InputError
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.inputs import inspect_input
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.testing import example_manifest, load_plugin

pytestmark = pytest.mark.gdal

SQUARE = "POLYGON((500000 5500000, 501000 5500000, 501000 5501000, 500000 5500000))"


@pytest.fixture(scope="module")
def raster_intent() -> RegisteredIntent:
    [registered] = load_plugin(spatial_etl_satellite_raster)
    return registered


@pytest.fixture(scope="module")
def vector_intent() -> RegisteredIntent:
    [registered] = load_plugin(spatial_etl_vector_boundary)
    return registered


def test_raster_with_the_manifests_crs_passes(
    raster_intent: RegisteredIntent, make_raster: Callable[..., Path]
) -> None:
    path = make_raster("utm.tif", crs="EPSG:32633", bounds=(500000, 5500000, 506400, 5504800))
    item = example_manifest(raster_intent, driver="GTiff", crs="EPSG:32633").files[0]
    found = inspect_input(SubprocessGdalRunner(), raster_intent, item, str(path))
    assert found.crs == "EPSG:32633"
    assert not found.crs_assigned
    assert found.raster is not None
    assert found.raster.size == (64, 48)


def test_raster_crs_mismatch_is_an_error_naming_both(
    raster_intent: RegisteredIntent, make_raster: Callable[..., Path]
) -> None:
    path = make_raster("utm.tif", crs="EPSG:32633", bounds=(500000, 5500000, 506400, 5504800))
    item = example_manifest(raster_intent, driver="GTiff", crs="EPSG:4326").files[0]
    with pytest.raises(InputError) as raised:
        inspect_input(SubprocessGdalRunner(), raster_intent, item, str(path))
    message = str(raised.value)
    assert item.path in message
    assert "EPSG:32633, WGS 84 / UTM zone 33N" in message
    assert "differs from the manifest's crs 'EPSG:4326'" in message


def test_raster_without_crs_is_assigned_the_manifests(
    raster_intent: RegisteredIntent, make_raster: Callable[..., Path]
) -> None:
    path = make_raster("nocrs.tif", crs=None)
    item = example_manifest(raster_intent, driver="GTiff", crs="EPSG:3035").files[0]
    found = inspect_input(SubprocessGdalRunner(), raster_intent, item, str(path))
    assert found.crs_assigned
    assert found.crs == "EPSG:3035"


def test_equivalent_crs_spellings_are_the_same(
    raster_intent: RegisteredIntent, make_raster: Callable[..., Path]
) -> None:
    path = make_raster("wgs84.tif", crs="EPSG:4326")
    item = example_manifest(raster_intent, driver="GTiff", crs="OGC:CRS84").files[0]
    assert not inspect_input(SubprocessGdalRunner(), raster_intent, item, str(path)).crs_assigned


def test_vector_crs_mismatch_and_missing_crs(
    vector_intent: RegisteredIntent, make_vector: Callable[..., Path]
) -> None:
    runner = SubprocessGdalRunner()
    utm = make_vector("utm.gpkg", [{"wkt": SQUARE, "name": "a"}], crs="EPSG:32633")
    item = example_manifest(vector_intent, driver="GPKG", crs="EPSG:25833").files[0]
    with pytest.raises(InputError, match=r"the file's CRS \(EPSG:32633, WGS 84 / UTM zone 33N\)"):
        inspect_input(runner, vector_intent, item, str(utm))
    shp = make_vector(
        "noprj.shp", [{"wkt": SQUARE, "name": "a"}], driver="ESRI Shapefile", crs=None
    )
    item = example_manifest(vector_intent, driver="ESRI Shapefile", crs="EPSG:25833").files[0]
    found = inspect_input(runner, vector_intent, item, str(shp))
    assert found.crs_assigned
    assert found.layer is not None
    assert found.layer.name == "noprj"
    assert found.layer.feature_count == 1


def test_point_layer_is_refused_by_the_boundary_intent(
    vector_intent: RegisteredIntent, make_vector: Callable[..., Path]
) -> None:
    path = make_vector(
        "wells.gpkg",
        [{"wkt": "POINT(500000 5500000)", "depth": "12"}],
        crs="EPSG:32633",
        geometry_type="POINT",
    )
    item = example_manifest(vector_intent, driver="GPKG", crs="EPSG:32633").files[0]
    with pytest.raises(InputError) as raised:
        inspect_input(SubprocessGdalRunner(), vector_intent, item, str(path))
    assert "layer 'wells' holds Point geometries" in str(raised.value)
    assert "accepts polygon layers only" in str(raised.value)


def test_layer_of_unknown_type_is_left_to_the_intents_sql_check(
    vector_intent: RegisteredIntent, make_vector: Callable[..., Path]
) -> None:
    # A GeoJSON mixing kinds declares no single type: only the features can tell (the
    # boundary intent's require_polygons step does), so inspection lets it through.
    path = make_vector(
        "mixed.geojson",
        [{"wkt": "POINT(500000 5500000)"}, {"wkt": SQUARE}],
        driver="GeoJSON",
        crs="EPSG:32633",
    )
    item = example_manifest(vector_intent, driver="GeoJSON", crs="EPSG:32633").files[0]
    found = inspect_input(SubprocessGdalRunner(), vector_intent, item, str(path))
    assert found.layer is not None
    assert found.layer.geometry_kind is None


def test_layer_choice_with_several_layers(
    vector_intent: RegisteredIntent, make_vector: Callable[..., Path]
) -> None:
    runner = SubprocessGdalRunner()
    path = make_vector("two.gpkg", [{"wkt": SQUARE, "n": "1"}], crs="EPSG:32633", layer="a")
    make_vector(
        "two.gpkg", [{"wkt": SQUARE, "n": "2"}], crs="EPSG:32633", layer="b", append_to=path
    )
    item = example_manifest(vector_intent, driver="GPKG", crs="EPSG:32633").files[0]
    with pytest.raises(InputError) as raised:
        inspect_input(runner, vector_intent, item, str(path))
    assert "the source has 2 layers (a, b); name one with metadata.parameters.layer" in str(
        raised.value
    )
    found = inspect_input(runner, vector_intent, item, str(path), {"layer": "b"})
    assert found.layer is not None
    assert found.layer.name == "b"
    with pytest.raises(InputError, match=r"no layer 'c'; layers: a, b"):
        inspect_input(runner, vector_intent, item, str(path), {"layer": "c"})
