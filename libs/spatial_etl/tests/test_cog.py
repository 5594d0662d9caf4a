"""COG writing and validation with the real GDAL COG driver."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from spatial_etl.errors import CogValidationError, GdalCommandError
from spatial_etl.export.cog import validate_cog, write_cog
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner

pytestmark = pytest.mark.gdal

OPTIONS = {"COMPRESS": "DEFLATE", "BLOCKSIZE": "256", "OVERVIEW_RESAMPLING": "NEAREST"}


def test_write_cog_produces_a_valid_tiled_cog_with_overviews(
    make_raster: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_raster("big.tif", size=(1500, 1100), bands=3, burn=(1, 2, 3), nodata=0)
    out = tmp_path / "out.tif"
    result = write_cog(SubprocessGdalRunner(), str(source), out, OPTIONS)
    assert result.path == out
    assert result.size == out.stat().st_size
    info = result.info
    assert info.image_structure["LAYOUT"] == "COG"
    assert info.image_structure["COMPRESSION"] == "DEFLATE"
    assert info.size == (1500, 1100)
    assert [b.block for b in info.bands] == [(256, 256)] * 3
    assert all(b.overview_count >= 2 for b in info.bands)
    assert [b.nodata for b in info.bands] == [0.0] * 3
    assert list(tmp_path.glob(".*partial")) == []


def test_a_striped_geotiff_is_not_a_cog(make_raster: Callable[..., Path]) -> None:
    striped = make_raster("striped.tif", size=(1500, 1100), options=("TILED=NO",))
    with pytest.raises(CogValidationError) as raised:
        validate_cog(SubprocessGdalRunner(), striped)
    problems = raised.value.problems
    assert problems == [
        "no COG layout header (the file was not written by GDAL's COG driver)",
        *problems[1:],
    ]
    assert "band 1 is striped (1500x5), not tiled" in problems
    assert "band 1 has no overviews" in problems


def test_an_edited_cog_is_no_longer_valid(make_raster: Callable[..., Path], tmp_path: Path) -> None:
    source = make_raster("src.tif", size=(1024, 1024))
    out = tmp_path / "cog.tif"
    write_cog(SubprocessGdalRunner(), str(source), out, OPTIONS)
    subprocess.run(["gdaladdo", "-q", str(out), "32"], check=True, capture_output=True)
    with pytest.raises(CogValidationError, match="KNOWN_INCOMPATIBLE_EDITION=YES, expected NO"):
        validate_cog(SubprocessGdalRunner(), out)


def test_not_a_tiff(tmp_path: Path) -> None:
    fake = tmp_path / "fake.tif"
    fake.write_bytes(b"PK\x03\x04 not a tiff at all" * 10)
    with pytest.raises((CogValidationError, GdalCommandError)) as raised:
        validate_cog(SubprocessGdalRunner(), fake)
    assert "not a TIFF file" in str(raised.value) or "not recognized" in str(raised.value)


def test_a_truncated_geotiff_fails_with_gdals_message_and_leaves_nothing(
    make_raster: Callable[..., Path], tmp_path: Path
) -> None:
    source = make_raster("whole.tif", size=(800, 600), data_type="Int16", burn=(5,))
    data = source.read_bytes()
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(data[: len(data) // 3])
    out = tmp_path / "never.tif"
    with pytest.raises(GdalCommandError) as raised:
        write_cog(SubprocessGdalRunner(), str(truncated), out, OPTIONS)
    assert raised.value.argv[0] == "gdal_translate"
    assert "truncated.tif" in str(raised.value) or "TIFF" in raised.value.stderr_tail
    assert not out.exists()
    assert list(tmp_path.glob(".*partial")) == []
