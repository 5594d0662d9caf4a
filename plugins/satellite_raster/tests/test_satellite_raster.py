"""Tests of ``ingest_satellite_raster``: its plan, resolved by the core and run by hand.

The executor that runs plans is not written yet, so these tests resolve the plan with the
core's ``resolve_plan``, run its GDAL steps with the real runner (GDAL 3.6), then perform the
export as the executor will: ``gdal_translate -of COG`` with the export's creation options.
The result is checked with ``gdalinfo -json`` through ``read_raster_info``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import spatial_etl_satellite_raster
from spatial_etl import ExportFormat
from spatial_etl.errors import PlanError
from spatial_etl.models.crs import same_crs
from spatial_etl.plugins.registry import RegisteredIntent
from spatial_etl.run.planning import (
    InputBinding,
    Plan,
    PlannedExport,
    PlannedGdal,
    RunValues,
    resolve_plan,
)
from spatial_etl.spatial_utils import rasterinfo
from spatial_etl.spatial_utils.rasterinfo import RasterInfo
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl.testing import check_plugin, example_manifest, load_plugin

INTENT_NAME = "ingest_satellite_raster"
DRIVERS = {"GTiff", "COG", "JP2OpenJPEG", "JP2KAK", "JP2ECW"}
UTM_BOUNDS = (500000.0, 5500000.0, 506400.0, 5504800.0)  # EPSG:32633, 10 m pixels at 640x480
EXPECTED_OPTIONS = {
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "YES",
    "BLOCKSIZE": "512",
    "OVERVIEWS": "IGNORE_EXISTING",
    "BIGTIFF": "IF_SAFER",
    "NUM_THREADS": "ALL_CPUS",
}

MakeRaster = Callable[..., Path]

# ----------------------------------------------------------------------------- plan running


def _intent() -> RegisteredIntent:
    (registered,) = [
        r for r in load_plugin(spatial_etl_satellite_raster) if r.intent.name == INTENT_NAME
    ]
    return registered


def _plan(
    source: Path,
    *,
    workdir: Path,
    driver: str = "GTiff",
    crs: str = "EPSG:32633",
    parameters: Mapping[str, Any] | None = None,
) -> Plan:
    registered = _intent()
    manifest = example_manifest(registered, driver=driver, crs=crs, parameters=parameters)
    binding = InputBinding(index=0, file=manifest.files[0], gdal_path=str(source))
    workdir.mkdir(parents=True, exist_ok=True)
    run = RunValues(run_id="test-run", schema_name="unused", workdir=workdir)
    return resolve_plan(registered, manifest, binding, run)


def _cog_argv(export: PlannedExport, target: Path) -> list[str]:
    """The export as the executor runs it: ``gdal_translate -of COG -co K=V ...``."""
    argv = ["gdal_translate", "-of", "COG"]
    for key, value in export.creation_options.items():
        argv += ["-co", f"{key}={value}"]
    return [*argv, export.source, str(target)]


def _run(plan: Plan, target: Path) -> RasterInfo:
    """Run the plan's GDAL steps, then its COG export to ``target``; describe the result."""
    runner = SubprocessGdalRunner(timeout_s=120)
    for step in plan.steps:
        if isinstance(step, PlannedGdal):
            runner.run(step.argv)
            assert step.output is not None
            assert Path(step.output).is_file()
    export = plan.export
    assert export.format is ExportFormat.COG
    runner.run(_cog_argv(export, target))
    return rasterinfo.read_raster_info(runner, str(target))


def _info(path: Path) -> RasterInfo:
    return rasterinfo.read_raster_info(SubprocessGdalRunner(timeout_s=60), str(path))


def _min_max(path: Path) -> list[tuple[float, float]]:
    """Per band (computed minimum, computed maximum), from ``gdalinfo -mm``."""
    result = SubprocessGdalRunner(timeout_s=60).run(
        ["gdalinfo", "-json", "-mm", "-nofl", str(path)]
    )
    bands = json.loads(result.stdout)["bands"]
    return [(band["computedMin"], band["computedMax"]) for band in bands]


def _assert_cog(info: RasterInfo) -> None:
    structure = info.image_structure
    assert info.driver == "GTiff"
    assert structure.get("LAYOUT") == "COG", structure
    assert structure.get("COMPRESSION") == "DEFLATE", structure
    assert all(band.block == (512, 512) for band in info.bands), info.bands


def _assert_same_bands(out: RasterInfo, source: RasterInfo) -> None:
    assert out.band_count == source.band_count
    for made, given in zip(out.bands, source.bands, strict=True):
        assert made.data_type == given.data_type
        assert made.same_nodata(given.nodata), (made.nodata, given.nodata)


# ----------------------------------------------------------------------------- declarations


def test_check_plugin_resolves_one_plan_per_driver() -> None:
    plans = check_plugin(spatial_etl_satellite_raster)

    assert sorted(plan.input.file.format for plan in plans) == sorted(DRIVERS)
    for plan in plans:
        assert plan.intent == INTENT_NAME
        assert [step.step for step in plan.steps] == ["assign_crs", "export"]
        assert plan.skipped == ("reproject",)
        assert plan.parameters == {
            "target_crs": None,
            "resampling": "nearest",
            "overview_resampling": "nearest",
        }
        assign = plan.steps[0]
        assert isinstance(assign, PlannedGdal)
        assert assign.argv[0] == "gdal_translate"
        assert assign.argv[assign.argv.index("-a_srs") + 1] == plan.input.file.crs
        assert plan.input.gdal_path in assign.argv
        assert assign.output is not None
        assert assign.output.endswith(".vrt")
        export = plan.export
        assert export.format is ExportFormat.COG
        assert export.source == assign.output
        assert export.creation_options == {**EXPECTED_OPTIONS, "OVERVIEW_RESAMPLING": "nearest"}


def test_check_plugin_with_target_crs_includes_the_reproject_step() -> None:
    plans = check_plugin(
        spatial_etl_satellite_raster,
        parameters={
            INTENT_NAME: {
                "target_crs": "EPSG:3857",
                "resampling": "bilinear",
                "overview_resampling": "average",
            }
        },
    )

    assert sorted(plan.input.file.format for plan in plans) == sorted(DRIVERS)
    for plan in plans:
        assert [step.step for step in plan.steps] == ["assign_crs", "reproject", "export"]
        assert plan.skipped == ()
        assign, warp = plan.steps[0], plan.steps[1]
        assert isinstance(assign, PlannedGdal)
        assert isinstance(warp, PlannedGdal)
        assert warp.argv[0] == "gdalwarp"
        argv = list(warp.argv)
        assert argv[argv.index("-t_srs") + 1] == "EPSG:3857"
        assert argv[argv.index("-r") + 1] == "bilinear"
        assert assign.output in argv  # the warp reads what assign_crs wrote
        assert warp.output is not None
        assert warp.output != assign.output
        assert plan.export.source == warp.output
        assert plan.export.creation_options["OVERVIEW_RESAMPLING"] == "average"


@pytest.mark.parametrize(
    "parameters",
    [
        {"target_crs": "EPSG:999999"},
        {"target_crs": "+proj=longlat +datum=WGS84"},
        {"resampling": "sharpest"},
        {"overview_resampling": "bogus"},
        {"target": "EPSG:3857"},
    ],
)
def test_invalid_parameters_are_a_plan_error(parameters: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(PlanError, match=INTENT_NAME):
        _plan(tmp_path / "x.tif", workdir=tmp_path / "work", parameters=parameters)


# ----------------------------------------------------------------------------- real runs


@pytest.mark.gdal
@pytest.mark.parametrize(
    ("data_type", "nodata", "burn", "size"),
    [
        ("Byte", 0.0, (7, 8, 9), (640, 480)),
        ("Int16", -9999.0, (-120, 0, 4321), (1400, 1100)),
    ],
    ids=["byte-640x480", "int16-1400x1100"],
)
def test_striped_geotiff_becomes_a_cog(
    data_type: str,
    nodata: float,
    burn: tuple[int, int, int],
    size: tuple[int, int],
    *,
    make_raster: MakeRaster,
    tmp_path: Path,
) -> None:
    source = make_raster(
        "striped.tif",
        size=size,
        bands=3,
        data_type=data_type,
        burn=burn,
        nodata=nodata,
        crs="EPSG:32633",
        bounds=UTM_BOUNDS,
        options=("TILED=NO", "COMPRESS=NONE"),
    )
    before = _info(source)
    assert before.bands[0].block is not None
    assert before.bands[0].block[0] == size[0]  # strips, not tiles
    assert before.image_structure.get("LAYOUT") != "COG"

    out = _run(_plan(source, workdir=tmp_path / "work"), tmp_path / "out.tif")

    _assert_cog(out)
    assert out.size == size
    assert same_crs(out.crs_wkt or "", "EPSG:32633")
    assert out.geo_transform == before.geo_transform
    _assert_same_bands(out, before)
    assert [band.data_type for band in out.bands] == [data_type] * 3
    assert all(band.nodata == nodata for band in out.bands)
    assert all(band.overview_count >= 1 for band in out.bands)  # wider than one 512 block
    if max(size) > 1024:
        assert all(band.overview_count >= 2 for band in out.bands)
    assert _min_max(tmp_path / "out.tif") == [(float(v), float(v)) for v in burn]


@pytest.mark.gdal
def test_small_raster_needs_no_overviews(make_raster: MakeRaster, tmp_path: Path) -> None:
    source = make_raster("small.tif", size=(64, 48), crs="EPSG:4326")

    out = _run(_plan(source, workdir=tmp_path / "work", crs="EPSG:4326"), tmp_path / "out.tif")

    _assert_cog(out)
    assert out.size == (64, 48)
    assert all(band.overview_count == 0 for band in out.bands)


@pytest.mark.gdal
def test_geotiff_without_crs_gets_the_manifest_crs(make_raster: MakeRaster, tmp_path: Path) -> None:
    source = make_raster(
        "nocrs.tif", size=(640, 480), bands=1, crs=None, bounds=UTM_BOUNDS, nodata=255
    )
    before = _info(source)
    assert before.crs_wkt is None

    out = _run(_plan(source, workdir=tmp_path / "work"), tmp_path / "out.tif")

    _assert_cog(out)
    assert out.crs_wkt is not None
    assert same_crs(out.crs_wkt, "EPSG:32633")
    assert out.geo_transform == before.geo_transform
    assert out.size == before.size
    _assert_same_bands(out, before)
    assert out.wgs84_bbox is not None
    west, south, _, _ = out.wgs84_bbox
    assert west == pytest.approx(15.0, abs=0.01)
    assert south == pytest.approx(49.65, abs=0.01)


@pytest.mark.gdal
def test_target_crs_reprojects_with_the_requested_resampling(
    make_raster: MakeRaster, tmp_path: Path
) -> None:
    source = make_raster(
        "utm.tif",
        size=(640, 480),
        bands=3,
        data_type="Int16",
        burn=(10, 20, 30),
        nodata=-9999,
        crs="EPSG:32633",
        bounds=UTM_BOUNDS,
    )
    before = _info(source)
    plan = _plan(
        source,
        workdir=tmp_path / "work",
        parameters={"target_crs": "EPSG:3857", "resampling": "bilinear"},
    )
    assert [step.step for step in plan.steps] == ["assign_crs", "reproject", "export"]
    warp = plan.steps[1]
    assert isinstance(warp, PlannedGdal)
    assert warp.argv[warp.argv.index("-r") + 1] == "bilinear"

    out = _run(plan, tmp_path / "out.tif")

    _assert_cog(out)
    assert out.crs_wkt is not None
    assert same_crs(out.crs_wkt, "EPSG:3857")
    assert not same_crs(out.crs_wkt, "EPSG:32633")
    _assert_same_bands(out, before)
    assert all(band.nodata == -9999 for band in out.bands)
    assert out.geo_transform is not None
    assert out.geo_transform[0] == pytest.approx(15.0 * 111319.49, rel=0.001)  # metres, 3857
    # Same footprint on the ground (within a pixel or so).
    assert before.wgs84_bbox is not None
    assert out.wgs84_bbox is not None
    for got, want in zip(out.wgs84_bbox, before.wgs84_bbox, strict=True):
        assert got == pytest.approx(want, abs=0.002)


@pytest.mark.gdal
def test_overview_resampling_parameter_is_accepted_by_the_cog_driver(
    make_raster: MakeRaster, tmp_path: Path
) -> None:
    source = make_raster(
        "avg.tif",
        size=(1100, 600),
        data_type="UInt16",
        burn=(500,),
        crs="EPSG:32633",
        bounds=UTM_BOUNDS,
    )
    plan = _plan(source, workdir=tmp_path / "work", parameters={"overview_resampling": "average"})
    assert plan.export.creation_options["OVERVIEW_RESAMPLING"] == "average"

    out = _run(plan, tmp_path / "out.tif")

    _assert_cog(out)
    assert out.bands[0].overview_count >= 1
    assert out.bands[0].data_type == "UInt16"


@pytest.mark.gdal
def test_jpeg2000_input_becomes_a_cog(make_raster: MakeRaster, tmp_path: Path) -> None:
    tif = make_raster(
        "for_jp2.tif",
        size=(700, 520),
        bands=3,
        burn=(50, 100, 150),
        crs="EPSG:32633",
        bounds=UTM_BOUNDS,
    )
    jp2 = tmp_path / "scene.jp2"
    runner = SubprocessGdalRunner(timeout_s=120)
    runner.run(
        [
            "gdal_translate",
            "-of",
            "JP2OpenJPEG",
            "-co",
            "REVERSIBLE=YES",
            "-co",
            "QUALITY=100",
            str(tif),
            str(jp2),
        ]
    )
    before = _info(jp2)
    assert before.driver == "JP2OpenJPEG"

    out = _run(_plan(jp2, workdir=tmp_path / "work", driver="JP2OpenJPEG"), tmp_path / "out.tif")

    _assert_cog(out)
    assert out.size == (700, 520)
    assert out.band_count == 3
    assert same_crs(out.crs_wkt or "", "EPSG:32633")
    _assert_same_bands(out, before)
    assert all(band.overview_count >= 1 for band in out.bands)
    assert _min_max(tmp_path / "out.tif") == [(50.0, 50.0), (100.0, 100.0), (150.0, 150.0)]


@pytest.mark.gdal
def test_float32_nan_nodata_is_preserved(make_raster: MakeRaster, tmp_path: Path) -> None:
    source = make_raster(
        "float.tif",
        size=(600, 400),
        bands=2,
        data_type="Float32",
        burn=(0.25, -3.5),
        nodata=math.nan,
        crs="EPSG:32633",
        bounds=UTM_BOUNDS,
    )
    before = _info(source)
    assert before.bands[0].nodata is not None
    assert math.isnan(before.bands[0].nodata)

    out = _run(_plan(source, workdir=tmp_path / "work"), tmp_path / "out.tif")

    _assert_cog(out)
    assert out.size == (600, 400)
    _assert_same_bands(out, before)
    assert all(band.data_type == "Float32" for band in out.bands)
    assert all(band.same_nodata(math.nan) for band in out.bands)
    assert same_crs(out.crs_wkt or "", "EPSG:32633")
    assert _min_max(tmp_path / "out.tif") == [(0.25, 0.25), (-3.5, -3.5)]
