"""The plugin contract's batch and multi-dataset parts: what registration refuses, and how
plans and agreement checks behave (no services)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from spatial_etl import (
    Accepts,
    ExportFormat,
    ExportStep,
    FileType,
    GdalProgram,
    GdalStep,
    GeometryKind,
    Intent,
)
from spatial_etl.errors import InputError, PlanError
from spatial_etl.models.manifest import ManifestFile
from spatial_etl.run.agreement import check_agreement
from spatial_etl.run.inputs import InputInspection
from spatial_etl.run.planning import InputBinding, resolve_batch_plan, resolve_plan
from spatial_etl.spatial_utils.rasterinfo import RasterInfo
from spatial_etl.testing import example_manifest, example_run, load_plugin

RASTER = Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"}))
COG = ExportStep(name="export", description="Write a COG.", format=ExportFormat.COG)
MOSAIC = GdalStep(
    name="mosaic",
    description="Mosaic.",
    program=GdalProgram.GDALBUILDVRT,
    args=("{dst}", "{srcs}"),
    output_suffix=".vrt",
)


def _batch(*steps: GdalStep) -> Intent:
    return Intent(
        name="ingest_tiles", summary="Tiles.", accepts=RASTER, inputs="batch", steps=(*steps, COG)
    )


def test_srcs_is_refused_outside_batch_intents() -> None:
    with pytest.raises(
        ValidationError, match=r"\{srcs\} is only available to intents with inputs='batch'"
    ):
        Intent(name="ingest_one", summary="One.", accepts=RASTER, steps=(MOSAIC, COG))


def test_srcs_must_be_a_whole_argument() -> None:
    step = MOSAIC.model_copy(update={"args": ("{dst}", "--files={srcs}")})
    with pytest.raises(ValidationError, match=r"\{srcs\} must be a whole argument on its own"):
        _batch(step)


def test_a_batch_intent_starts_with_an_unconditional_step_reading_srcs() -> None:
    warp = GdalStep(
        name="warp",
        description="Warp.",
        program=GdalProgram.GDALWARP,
        args=("-of", "VRT", "{src}", "{dst}"),
        output_suffix=".vrt",
    )
    with pytest.raises(ValidationError, match="the first step must be an unconditional GdalStep"):
        _batch(warp, MOSAIC)


def test_batch_inputs_are_for_raster_intents() -> None:
    vector = Accepts(
        file_type=FileType.VECTOR,
        drivers=frozenset({"GPKG"}),
        geometry_kinds=frozenset({GeometryKind.POINT}),
    )
    load = GdalStep(
        name="load",
        description="Load.",
        program=GdalProgram.OGR2OGR,
        args=("-f", "PostgreSQL", "{postgis}", "{src}", "-nln", "{table}", "-lco", "FID={fid}"),
    )
    export = ExportStep(
        name="export", description="GeoParquet.", format=ExportFormat.GEOPARQUET, table="{table}"
    )
    with pytest.raises(ValidationError, match="inputs='batch' is available to raster intents only"):
        Intent(name="ingest_v", summary="V.", accepts=vector, inputs="batch", steps=(load, export))


def test_layers_each_and_partition_are_for_vector_intents() -> None:
    with pytest.raises(ValidationError, match="layers='each' applies to vector intents only"):
        Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"}), layers="each")
    with pytest.raises(ValidationError, match="partition splits GeoParquet exports only"):
        Intent(
            name="ingest_r",
            summary="R.",
            accepts=RASTER,
            steps=(COG.model_copy(update={"partition": "family"}),),
        )


def _registered(intent: Intent) -> object:
    class Plugin:
        @staticmethod
        def register_intents(registry: object) -> None:
            registry.register(intent)  # type: ignore[attr-defined]

    from spatial_etl import hookimpl

    Plugin.register_intents = hookimpl(Plugin.register_intents)  # type: ignore[method-assign]
    [registered] = load_plugin(Plugin)
    return registered


def test_a_batch_plan_expands_srcs_to_every_input_in_order(tmp_path: Path) -> None:
    registered = _registered(_batch(MOSAIC))
    manifest = example_manifest(registered, files=3)  # type: ignore[arg-type]
    bindings = [
        InputBinding(index=i, file=item, gdal_path=f"/work/in/{i}.tif")
        for i, item in enumerate(manifest.files)
    ]
    plan = resolve_batch_plan(registered, manifest, bindings, example_run(tmp_path))  # type: ignore[arg-type]
    mosaic = plan.steps[0]
    assert mosaic.argv[2:] == ("/work/in/0.tif", "/work/in/1.tif", "/work/in/2.tif")  # type: ignore[attr-defined]
    assert plan.inputs == tuple(bindings)
    assert plan.bindings == tuple(bindings)
    with pytest.raises(PlanError, match="takes the whole batch"):
        resolve_plan(registered, manifest, bindings[0], example_run(tmp_path))  # type: ignore[arg-type]


def _raster(dtype: str = "Byte", bands: int = 1, nodata: float | None = 0.0) -> RasterInfo:
    return RasterInfo.model_validate(
        {
            "description": "x",
            "driverShortName": "GTiff",
            "size": [2, 2],
            "bands": [{"band": b + 1, "type": dtype, "noDataValue": nodata} for b in range(bands)],
        }
    )


def _item(name: str, crs: str = "EPSG:32633") -> ManifestFile:
    return ManifestFile.model_validate(
        {"path": f"s3://landing-zone/b/{name}", "type": "raster", "format": "GTiff", "crs": crs},
        context={"manifest_name": "b.json"},
    )


def _inspected(
    name: str, raster: RasterInfo, crs: str = "EPSG:32633"
) -> tuple[ManifestFile, InputInspection]:
    return _item(name, crs), InputInspection(
        gdal_path=name, driver="GTiff", crs=crs, crs_assigned=False, raster=raster
    )


def test_agreeing_tiles_pass() -> None:
    check_agreement([_inspected("a.tif", _raster()), _inspected("b.tif", _raster())])


def test_disagreeing_tiles_fail_naming_each_file_and_value() -> None:
    with pytest.raises(InputError) as raised:
        check_agreement(
            [
                _inspected("a.tif", _raster()),
                _inspected("b.tif", _raster(nodata=None)),
                _inspected("c.tif", _raster(), crs="EPSG:4326"),
            ]
        )
    message = str(raised.value)
    assert (
        "they differ in nodata: s3://landing-zone/b/a.tif (0.0), s3://landing-zone/b/b.tif (none)"
        in message
    )
    assert "they differ in CRS" in message
    assert "s3://landing-zone/b/c.tif (" in message
    assert "band count" not in message
    assert raised.value.file == "s3://landing-zone/b/a.tif"


def test_nan_nodata_agrees_with_nan() -> None:
    nan = float("nan")
    check_agreement(
        [
            _inspected("a.tif", _raster("Float32", nodata=nan)),
            _inspected("b.tif", _raster("Float32", nodata=nan)),
        ]
    )
