from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2.extensions
import pytest
from pymongo.errors import InvalidOperation
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.errors import ConfigurationError, GdalCommandError, GdalNotFoundError
from spatial_etl.settings import GdalSettings, variables
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from spatial_etl_dagster import (
    GDALResource,
    IntakeResource,
    LedgerResource,
    MinIOResource,
    PostGISResource,
)
from spatial_etl_dagster import platform as platform_module
from spatial_etl_dagster.definitions import defs
from spatial_etl_dagster.job import ingest_job
from spatial_etl_dagster.platform import open_platform
from spatial_etl_dagster.resources import SettingsResource
from spatial_etl_dagster.sensor import manifest_sensor, reconcile_sensor

RESOURCES = (GDALResource, MinIOResource, PostGISResource, LedgerResource, IntakeResource)


@pytest.fixture
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SPATIAL_ETL_* variable and no .env: only the settings' defaults."""
    for name in list(os.environ):
        if name.startswith("SPATIAL_ETL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_resources_repeat_no_setting() -> None:
    """The settings models are the only declaration; a resource adds deployment fields only."""
    declared = {name.removeprefix("SPATIAL_ETL_").lower() for name in variables()}
    for resource in RESOURCES:
        own = set(resource.model_fields) - set(SettingsResource.model_fields)
        assert not own & declared, f"{resource.__name__} repeats {own & declared}"
        for name, field in resource.model_fields.items():
            assert field.description, f"{resource.__name__}.{name} has no description"


def test_resource_builds_the_core_runner_from_the_settings(tmp_path: Path) -> None:
    resource = GDALResource(
        overrides={"gdal_bin_dir": str(tmp_path), "gdal_timeout_s": "12.5"},
        config_options={"X": "1"},
    )
    runner = resource.runner()
    assert isinstance(runner, SubprocessGdalRunner)
    assert runner.bin_dir == tmp_path
    assert runner.timeout_s == 12.5  # a float, as GdalSettings declares it
    assert runner.env == {"X": "1"}
    with pytest.raises(GdalNotFoundError, match="SPATIAL_ETL_GDAL_BIN_DIR"):
        runner.run(["gdalinfo", "--version"])


def test_resource_reads_its_settings_from_the_environment_when_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[float] = []

    @dg.op
    def probe(gdal: GDALResource) -> None:
        seen.append(gdal.runner().timeout_s)  # type: ignore[attr-defined]

    @dg.job
    def job() -> None:
        probe()

    resource = GDALResource()
    monkeypatch.setenv("SPATIAL_ETL_GDAL_TIMEOUT_S", "7")
    assert job.execute_in_process(resources={"gdal": resource}).success
    monkeypatch.setenv("SPATIAL_ETL_GDAL_TIMEOUT_S", "8.5")
    assert job.execute_in_process(resources={"gdal": resource}).success
    assert seen == [7.0, 8.5]


def test_os_limits_of_gdal_come_from_settings_unless_overridden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_GDAL_MAX_MEMORY_MB", "3000")
    monkeypatch.setenv("SPATIAL_ETL_GDAL_MAX_CPU_S", "90")

    from_env = GDALResource().runner()
    configured = GDALResource.with_settings(gdal_max_memory_mb=0, gdal_max_cpu_s=10).runner()

    assert isinstance(from_env, SubprocessGdalRunner)
    assert isinstance(configured, SubprocessGdalRunner)
    assert (from_env.max_memory_mb, from_env.max_cpu_s) == (3000, 90)
    assert (configured.max_memory_mb, configured.max_cpu_s) == (0, 10)


def test_an_invalid_or_unknown_setting_is_one_line_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SPATIAL_ETL_GDAL_TIMEOUT_S", "soon")
    with pytest.raises(ConfigurationError) as caught:
        GDALResource().runner()
    assert "SPATIAL_ETL_GDAL_TIMEOUT_S is invalid" in str(caught.value)
    assert "\n" not in str(caught.value)
    with pytest.raises(ConfigurationError, match=r"unknown setting.*timeout_s"):
        GDALResource(overrides={"timeout_s": "3"}).runner()


def test_with_settings_spells_values_as_the_environment_would() -> None:
    resource = GDALResource.with_settings(gdal_timeout_s=2.5, gdal_bin_dir=None)
    assert resource.overrides == {"gdal_timeout_s": "2.5"}
    settings = resource.settings()
    assert isinstance(settings, GdalSettings)
    assert settings.gdal_timeout_s == 2.5


# ----------------------------------------------------------------- nothing but the defaults


@pytest.mark.usefixtures("bare_environment")
@pytest.mark.parametrize("sensor", [manifest_sensor, reconcile_sensor], ids=lambda s: s.name)
def test_sensors_report_a_missing_setting_in_one_line(sensor: dg.SensorDefinition) -> None:
    """With no environment the definitions load and each tick says what to set."""
    resources = defs().resources
    result = sensor(dg.build_sensor_context(resources=resources))
    assert isinstance(result, dg.SkipReason)
    message = result.skip_message or ""
    assert message.startswith("configuration: SPATIAL_ETL_MONGODB_URI is not set")
    assert "\n" not in message


@pytest.mark.usefixtures("bare_environment")
def test_a_run_reports_a_missing_setting_in_one_line() -> None:
    result = ingest_job.execute_in_process(
        run_config={
            "ops": {"ingest_manifest": {"config": {"key": "manifests/b.json", "etag": "e"}}}
        },
        resources=dict(defs().resources),
        raise_on_error=False,
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    data = failure.step_failure_data.user_failure_data
    assert data is not None  # a dg.Failure: Dagster shows its description, no traceback
    assert data.description == (
        "configuration: SPATIAL_ETL_MONGODB_URI is not set (see .env.example)"
    )


def test_the_code_location_validates_with_dagsters_own_cli(tmp_path: Path) -> None:
    """No SPATIAL_ETL_* variable at all: the definitions still load."""
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


# ----------------------------------------------------------------- lifecycles


@pytest.fixture
def counted_plugin_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    loads: list[object] = []
    real = platform_module.load_plugins

    def counting(*args: Any, **kwargs: Any) -> Any:
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(platform_module, "load_plugins", counting)
    monkeypatch.setattr(platform_module, "_CATALOGS", {})
    return loads


@pytest.mark.s3
@pytest.mark.postgis
def test_ticks_load_the_plugins_once_per_configuration(
    counted_plugin_loads: list[object],
    postgis_dsn: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dagster_support import dagster_world, resources

    with dagster_world(postgis_dsn, tmp_path, monkeypatch) as world:
        given = resources(world, postgis_dsn)
        for _ in range(3):
            result = manifest_sensor(dg.build_sensor_context(resources=given))
            assert isinstance(result, dg.SensorResult)
        assert len(counted_plugin_loads) == 1
        monkeypatch.setenv("SPATIAL_ETL_BLOCK_PLUGINS", "satellite_raster")
        manifest_sensor(dg.build_sensor_context(resources=given))
        manifest_sensor(dg.build_sensor_context(resources=given))
        assert len(counted_plugin_loads) == 2  # another configuration, loaded once too
        names = platform_module.plugin_catalog().names()
        assert "ingest_vector_boundary" in names
        assert "ingest_satellite_raster" not in names


@pytest.mark.s3
@pytest.mark.postgis
def test_the_platform_closes_the_clients_it_opened(postgis_dsn: str) -> None:
    minio = MinIOResource.with_settings(s3_access_key_id="testing", s3_secret_access_key="testing")
    ledger = LedgerResource.with_settings(mongodb_uri="mongodb://127.0.0.1:1/?connect=false")
    postgis = PostGISResource.with_settings(postgis_dsn=postgis_dsn)
    connection: psycopg2.extensions.connection | None = None
    with open_platform(GDALResource(), minio, ledger, postgis) as platform:
        assert platform.compute is not None
        with platform.compute.connection() as conn:
            connection = conn
            assert conn.closed == 0
        platform.store.ensure_bucket("lifecycle-test")
    assert connection is not None
    assert connection.closed != 0, "the PostGIS pool was left open"
    with pytest.raises(InvalidOperation, match="after close"):
        platform.ledger.db.list_collection_names()
    # The next tick opens fresh clients.
    assert ledger.ledger() is not platform.ledger


@pytest.mark.usefixtures("bare_environment")
def test_the_platform_closes_what_it_built_when_a_setting_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed: list[ObjectStore] = []

    def close(store: ObjectStore) -> None:
        closed.append(store)

    monkeypatch.setattr(ObjectStore, "close", close)
    minio = MinIOResource()
    with (
        pytest.raises(ConfigurationError, match="SPATIAL_ETL_MONGODB_URI"),
        open_platform(GDALResource(), minio, LedgerResource()),
    ):
        pass  # pragma: no cover - building fails
    assert len(closed) == 1  # the store was built before the ledger failed, then closed


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


@pytest.mark.s3
@pytest.mark.postgis
def test_a_run_closes_the_clients_it_opened(
    postgis_dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the real op: whatever the run's outcome, its pool and S3 client are closed."""
    from dagster_support import dagster_world, resources

    connections: list[psycopg2.extensions.connection] = []
    stores: list[ObjectStore] = []
    real_compute, real_store = PostGISResource.compute, MinIOResource.store

    def compute(self: PostGISResource) -> Any:
        made = real_compute(self)
        with made.connection() as conn:  # the pool holds one connection from now on
            connections.append(conn)
        return made

    def store(self: MinIOResource) -> ObjectStore:
        made = real_store(self)
        stores.append(made)
        return made

    closed: list[ObjectStore] = []
    real_close = ObjectStore.close

    def close(self: ObjectStore) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(PostGISResource, "compute", compute)
    monkeypatch.setattr(MinIOResource, "store", store)
    monkeypatch.setattr(ObjectStore, "close", close)
    with dagster_world(postgis_dsn, tmp_path, monkeypatch) as world:
        result = ingest_job.execute_in_process(
            run_config={
                "ops": {"ingest_manifest": {"config": {"key": "manifests/gone.json", "etag": "x"}}}
            },
            resources=resources(world, postgis_dsn),
            raise_on_error=False,
        )
    assert not result.success  # the manifest does not exist: the run fails, and still closes
    assert connections and all(conn.closed != 0 for conn in connections)
    assert stores and set(map(id, stores)) <= set(map(id, closed))
