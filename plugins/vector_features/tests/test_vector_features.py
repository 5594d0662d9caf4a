"""Tests of ``ingest_vector_features``'s declaration and plan (no services: see tests/ for runs)."""

from __future__ import annotations

import pytest
import spatial_etl_vector_features
from pydantic import ValidationError
from spatial_etl.run.planning import PlannedExport, PlannedGdal, PlannedSql
from spatial_etl.testing import check_plugin

INTENT = "ingest_vector_features"


def test_check_plugin_plans_every_driver() -> None:
    plans = check_plugin(spatial_etl_vector_features)
    assert sorted(p.input.file.format for p in plans) == [
        "ESRI Shapefile",
        "FlatGeobuf",
        "GPKG",
        "GeoJSON",
    ]
    for plan in plans:
        load = plan.steps[0]
        assert isinstance(load, PlannedGdal)
        assert load.argv[load.argv.index("-dim") : load.argv.index("-dim") + 2] == ("-dim", "XYZ")
        assert plan.skipped == ("drop_null_geometries",)
        export = plan.steps[-1]
        assert isinstance(export, PlannedExport)
        assert export.source == "input_0_out"
        assert export.partition == "etl_family"


def test_defaults_split_keep_z_keep_nulls_and_4326() -> None:
    params = spatial_etl_vector_features.FeatureParameters()
    assert params.mixed_geometries == "split"
    assert params.keep_z is True
    assert params.drop_null_geometries is False
    assert params.target_crs == "EPSG:4326"


def test_parameters_reach_the_sql_as_literals() -> None:
    [plan, *_] = check_plugin(
        spatial_etl_vector_features,
        parameters={
            INTENT: {
                "target_crs": "EPSG:3857",
                "keep_z": False,
                "drop_null_geometries": True,
                "mixed_geometries": "refuse",
            }
        },
    )
    steps = {step.step: step for step in plan.steps}
    assert plan.skipped == ()
    crs = steps["dimension_and_crs"]
    assert isinstance(crs, PlannedSql)
    assert crs.literals == {"params.target_crs": "EPSG:3857", "params.keep_z": False}
    drop = steps["drop_null_geometries"]
    assert isinstance(drop, PlannedSql)
    assert drop.removes_features
    check = steps["refuse_mixed"]
    assert isinstance(check, PlannedSql)
    assert check.literals == {"params.mixed_geometries": "refuse"}


@pytest.mark.parametrize("value", ["EPSG:999999", "+proj=longlat", "OGC:CRS84"])
def test_target_crs_must_be_a_known_epsg_code(value: str) -> None:
    with pytest.raises(ValidationError, match="target_crs"):
        spatial_etl_vector_features.FeatureParameters(target_crs=value)


def test_every_layer_is_its_own_dataset() -> None:
    assert spatial_etl_vector_features.INTENT.accepts.layers == "each"
