from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from spatial_etl.errors import GdalCommandError, GdalNotFoundError
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl_dagster import GDALResource


def test_every_setting_is_described() -> None:
    for name, field in GDALResource.model_fields.items():
        assert field.description, f"GDALResource.{name} has no description"


def test_resource_builds_the_core_runner_from_its_config(tmp_path: Path) -> None:
    resource = GDALResource(bin_dir=str(tmp_path), timeout_s=12, config_options={"X": "1"})
    runner = resource.runner()
    assert isinstance(runner, SubprocessGdalRunner)
    assert runner.bin_dir == tmp_path
    assert runner.timeout_s == 12
    assert runner.env == {"X": "1"}
    with pytest.raises(GdalNotFoundError, match="SPATIAL_ETL_GDAL_BIN_DIR"):
        runner.run(["gdalinfo", "--version"])


def test_resource_reads_its_config_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GDAL_TIMEOUT", "7")
    seen: list[float] = []

    @dg.op
    def probe(gdal: GDALResource) -> None:
        seen.append(gdal.runner().timeout_s)  # type: ignore[attr-defined]

    @dg.job
    def job() -> None:
        probe()

    result = job.execute_in_process(
        resources={"gdal": GDALResource(timeout_s=dg.EnvVar.int("TEST_GDAL_TIMEOUT"))}
    )
    assert result.success
    assert seen == [7.0]


@pytest.mark.gdal
def test_resource_runs_real_gdal_inside_an_op() -> None:
    outputs: list[str] = []

    @dg.op
    def version(gdal: GDALResource) -> None:
        outputs.append(gdal.runner().run(["gdalinfo", "--version"]).stdout)

    @dg.op
    def failing(gdal: GDALResource) -> None:
        gdal.runner().run(["gdalinfo", "/does/not/exist.tif"])

    @dg.job
    def ok_job() -> None:
        version()

    @dg.job
    def bad_job() -> None:
        failing()

    assert ok_job.execute_in_process(resources={"gdal": GDALResource()}).success
    assert outputs[0].startswith("GDAL ")
    with pytest.raises(GdalCommandError, match=r"No such file or directory"):
        bad_job.execute_in_process(resources={"gdal": GDALResource()})


def test_the_code_location_validates_with_dagsters_own_cli(tmp_path: Path) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).with_name("dagster")
    done = subprocess.run(
        [str(exe), "definitions", "validate", "-m", "spatial_etl_dagster.definitions"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "DAGSTER_HOME": str(tmp_path), "HOME": str(tmp_path)},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "All code locations passed validation" in done.stdout + done.stderr


def test_os_limits_of_gdal_come_from_settings_unless_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_GDAL_MAX_MEMORY_MB", "3000")
    monkeypatch.setenv("SPATIAL_ETL_GDAL_MAX_CPU_S", "90")

    from_env = GDALResource().runner()
    configured = GDALResource(max_memory_mb=0, max_cpu_s=10).runner()

    assert isinstance(from_env, SubprocessGdalRunner)
    assert isinstance(configured, SubprocessGdalRunner)
    assert (from_env.max_memory_mb, from_env.max_cpu_s) == (3000, 90)
    assert (configured.max_memory_mb, configured.max_cpu_s) == (0, 10)
