"""Size limits checked right after inspection, with limits given explicitly (no environment)."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import spatial_etl_satellite_raster
import spatial_etl_vector_boundary
from spatial_etl.errors import InputError, LimitExceededError
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.inputs import file_size, inspect_input
from spatial_etl.settings import LimitSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.testing import example_manifest, load_plugin

pytestmark = pytest.mark.gdal

SQUARE = "POLYGON((500000 5500000, 501000 5500000, 501000 5501000, 500000 5500000))"
UTM = (500000, 5500000, 506400, 5504800)


@pytest.fixture(scope="module")
def raster_intent() -> RegisteredIntent:
    [registered] = load_plugin(spatial_etl_satellite_raster)
    return registered


@pytest.fixture(scope="module")
def vector_intent() -> RegisteredIntent:
    [registered] = load_plugin(spatial_etl_vector_boundary)
    return registered


def test_defaults_let_a_40000_square_scene_pass_and_refuse_1e10_pixels() -> None:
    limits = LimitSettings()

    assert 40_000 * 40_000 <= limits.limit_raster_max_pixels < 100_000 * 100_000


def test_the_band_limit_names_the_file_the_count_and_the_setting(
    raster_intent: RegisteredIntent, make_raster: Callable[..., Path]
) -> None:
    path = make_raster("bands.tif", bands=4, burn=(1, 2, 3, 4), crs="EPSG:32633", bounds=UTM)
    item = example_manifest(raster_intent, driver="GTiff", crs="EPSG:32633").files[0]
    runner = SubprocessGdalRunner()

    with pytest.raises(LimitExceededError) as caught:
        inspect_input(
            runner, raster_intent, item, str(path), limits=LimitSettings(limit_raster_max_bands=3)
        )

    error = caught.value
    assert isinstance(error, InputError)
    assert str(error) == (
        f"{item.path}: the raster has 4 bands, over the limit of 3 bands; "
        "raise SPATIAL_ETL_LIMIT_RASTER_MAX_BANDS to accept it"
    )
    assert (error.setting, error.measured, error.limit) == (
        "SPATIAL_ETL_LIMIT_RASTER_MAX_BANDS",
        4,
        3,
    )
    limits = LimitSettings(limit_raster_max_bands=4)
    assert inspect_input(runner, raster_intent, item, str(path), limits=limits).raster is not None


def test_the_expansion_ratio_counts_bytes_per_sample(
    raster_intent: RegisteredIntent, make_raster: Callable[..., Path]
) -> None:
    path = make_raster("f64.tif", data_type="Float64", crs="EPSG:32633", bounds=UTM)
    item = example_manifest(raster_intent, driver="GTiff", crs="EPSG:32633").files[0]
    size = path.stat().st_size
    ratio = 64 * 48 * 8 / size

    with pytest.raises(LimitExceededError) as caught:
        inspect_input(
            SubprocessGdalRunner(),
            raster_intent,
            item,
            str(path),
            limits=LimitSettings(limit_raster_max_expansion_ratio=ratio * 0.99),
        )

    assert f"expands to {64 * 48 * 8} bytes from {size} bytes on disk" in str(caught.value)
    assert caught.value.setting == "SPATIAL_ETL_LIMIT_RASTER_MAX_EXPANSION_RATIO"


def test_the_feature_limit_refuses_a_layer_with_too_many_features(
    vector_intent: RegisteredIntent, make_vector: Callable[..., Path]
) -> None:
    rows = [{"wkt": SQUARE, "name": str(i)} for i in range(5)]
    path = make_vector("five.gpkg", rows, crs="EPSG:32633")
    item = example_manifest(vector_intent, driver="GPKG", crs="EPSG:32633").files[0]

    with pytest.raises(LimitExceededError, match="has 5 features, over the limit of 4 features"):
        inspect_input(
            SubprocessGdalRunner(),
            vector_intent,
            item,
            str(path),
            limits=LimitSettings(limit_vector_max_features=4),
        )


def test_file_size_of_plain_zipped_and_remote_paths(tmp_path: Path) -> None:
    plain = tmp_path / "a.tif"
    plain.write_bytes(b"x" * 10)
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("inner/a.shp", b"y" * 1000)

    assert file_size(str(plain)) == 10
    assert file_size(f"/vsizip/{archive}") == archive.stat().st_size
    assert file_size(f"/vsizip/{archive}/inner/a.shp") == archive.stat().st_size
    assert file_size("/vsis3/bucket/a.tif") is None
    assert file_size(str(tmp_path / "missing.tif")) is None
