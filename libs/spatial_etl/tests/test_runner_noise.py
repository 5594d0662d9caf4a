"""GDAL_SKIP names drivers of several GDAL releases; the warning for a missing one is not news."""

from __future__ import annotations

import pytest
from spatial_etl.errors import GdalCommandError
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner


@pytest.mark.gdal
def test_skip_warnings_stay_out_of_the_error_a_user_reads() -> None:
    runner = SubprocessGdalRunner(timeout_s=30, env={"GDAL_SKIP": "NO_SUCH_DRIVER_A,NO_SUCH_B"})
    with pytest.raises(GdalCommandError) as caught:
        runner.run(["gdalinfo", "/nonexistent/scene.tif"])
    message = str(caught.value)
    assert "Unable to find driver" not in message
    assert "No such file or directory" in message
