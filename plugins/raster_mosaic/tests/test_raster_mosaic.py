"""Tests of ``ingest_raster_mosaic``'s declaration and plan (no services: see tests/ for runs)."""

from __future__ import annotations

import pytest
import spatial_etl_raster_mosaic
from pydantic import ValidationError
from spatial_etl.run.planning import PlannedExport, PlannedGdal
from spatial_etl.testing import check_plugin

INTENT = "ingest_raster_mosaic"


def test_check_plugin_plans_a_batch_of_tiles_for_every_driver() -> None:
    plans = check_plugin(spatial_etl_raster_mosaic)
    assert len(plans) == 3  # GTiff, COG, JP2OpenJPEG
    for plan in plans:
        assert plan.intent == INTENT
        suffix = plan.input.file.path.rsplit(".", 1)[1]
        assert [b.file.path for b in plan.inputs] == [
            f"s3://landing-zone/example_batch/example_{n}.{suffix}" for n in (0, 1)
        ]
        mosaic, export = plan.steps
        assert isinstance(mosaic, PlannedGdal)
        assert mosaic.argv[0] == "gdalbuildvrt"
        # {srcs} became one argument per input, in manifest order, after the output
        assert mosaic.argv[-3:] == (mosaic.output, *(b.gdal_path for b in plan.inputs))
        assert isinstance(export, PlannedExport)
        assert export.source == mosaic.output
        assert plan.skipped == ("reproject",)


def test_target_crs_adds_the_warp_of_the_mosaic() -> None:
    [plan, *_] = check_plugin(
        spatial_etl_raster_mosaic,
        parameters={INTENT: {"target_crs": "EPSG:3857", "resampling": "bilinear"}},
    )
    mosaic, warp, export = plan.steps
    assert isinstance(mosaic, PlannedGdal)
    assert isinstance(warp, PlannedGdal)
    assert warp.argv[-2] == mosaic.output
    assert list(warp.argv[3:7]) == ["-t_srs", "EPSG:3857", "-r", "bilinear"]
    assert isinstance(export, PlannedExport)
    assert export.source == warp.output


def test_an_unknown_crs_is_refused() -> None:
    with pytest.raises(ValidationError, match="target_crs"):
        spatial_etl_raster_mosaic.MosaicParameters(target_crs="EPSG:999999")


def test_the_intent_takes_the_batch() -> None:
    assert spatial_etl_raster_mosaic.INTENT.takes_batch
