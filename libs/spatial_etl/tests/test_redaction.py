"""Secrets never reach a log line, a result or an error (real and fake runner alike)."""

from __future__ import annotations

import json
import logging

import pytest
from spatial_etl.errors import GdalCommandError
from spatial_etl.spatial_utils.rasterinfo import parse_raster_info
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner, redact, redact_argv
from spatial_etl.testing import FakeGdalRunner


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PG:host=h password=hunter2 user=u", "PG:host=h password=*** user=u"),
        ("PG:host=h password='hunter 2' user=u", "PG:host=h password=*** user=u"),
        ('PG:host=h password="hunter 2"', "PG:host=h password=***"),
        ("AWS_SECRET_ACCESS_KEY=abc123", "AWS_SECRET_ACCESS_KEY=***"),
        ("MY_TOKEN=t0k", "MY_TOKEN=***"),
        ("GDAL_CACHEMAX=512", "GDAL_CACHEMAX=512"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_config_option_values_naming_a_secret_are_hidden() -> None:
    argv = [
        "gdalinfo",
        "--config",
        "AWS_SECRET_ACCESS_KEY",
        "hunter2",
        "--config",
        "GDAL_CACHEMAX",
        "64",
        "x.tif",
    ]
    shown = redact_argv(argv)
    assert shown[3] == "***"
    assert shown[:3] == ("gdalinfo", "--config", "AWS_SECRET_ACCESS_KEY")
    assert shown[4:] == ("--config", "GDAL_CACHEMAX", "64", "x.tif")


@pytest.mark.gdal
def test_real_runner_hides_the_password_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    runner = SubprocessGdalRunner(timeout_s=30)
    argv = ["ogrinfo", "-ro", "PG:host=127.0.0.1 port=1 dbname=x user=u password='hunter 2'"]
    with caplog.at_level(logging.INFO), pytest.raises(GdalCommandError) as raised:
        runner.run(argv)
    assert "hunter" not in str(raised.value)
    assert "hunter" not in " ".join(raised.value.argv)
    assert "hunter" not in caplog.text
    result = runner.run(argv, check=False)
    assert "hunter" not in result.stdout + result.stderr + " ".join(result.argv)


def test_fake_runner_redacts_like_the_real_one() -> None:
    fake = FakeGdalRunner().respond("ogrinfo", stderr="cannot open password=hunter2", returncode=1)
    with pytest.raises(GdalCommandError) as raised:
        fake.run(["ogrinfo", "PG:password=hunter2"])
    assert "hunter2" not in str(raised.value)
    assert raised.value.argv == ["ogrinfo", "PG:password=***"]


def test_wgs84_bbox_across_the_antimeridian_has_west_greater_than_east() -> None:
    ring = [[177.9, 9.05], [177.9, 6.32], [-179.4, 6.32], [-179.4, 9.05], [177.9, 9.05]]
    info = parse_raster_info(
        json.dumps(
            {
                "description": "x.tif",
                "driverShortName": "GTiff",
                "size": [10, 10],
                "wgs84Extent": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    )
    assert info.wgs84_bbox == (177.9, 6.32, -179.4, 9.05)
