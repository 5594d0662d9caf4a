"""The error hierarchy: what a caller can branch on, checked on the real boundaries."""

from __future__ import annotations

import inspect
import socket
from pathlib import Path

import pytest
from psycopg2 import sql
from pydantic import SecretStr
from spatial_etl import IntentRegistry, errors
from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.backends.outages import is_outage
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.errors import (
    BadInputError,
    ComputeError,
    ComputeUnavailableError,
    ConfigurationError,
    GdalNotFoundError,
    GdalTimeoutError,
    InputError,
    IntentDeclarationError,
    PluginFaultError,
    ServiceError,
    ServiceUnavailableError,
    SpatialEtlError,
    SqlStepError,
    StepError,
    StorageUnavailableError,
    UnknownIntentError,
)
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.run.executor import run_error
from spatial_etl.settings import PostgisSettings, StorageSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner

BASES = (BadInputError, PluginFaultError, ServiceError, ConfigurationError)
STAGES = {"GdalError", "StepError", "ExportError", "CogValidationError", "PublishError"}
STAGES |= {"SettleError", "MetadataError", "QuicklookError", "CatalogueError"}


def _classes() -> list[type[SpatialEtlError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, SpatialEtlError) and cls.__module__ == errors.__name__
    ]


def test_every_error_sits_under_a_base_that_says_whose_move_it_is() -> None:
    direct = {cls.__name__ for cls in _classes() if cls.__bases__[0] is SpatialEtlError}
    assert direct == {b.__name__ for b in BASES} | STAGES
    for cls in _classes():
        assert cls.__doc__, f"{cls.__name__} has no docstring"


def test_step_and_file_live_on_the_base() -> None:
    plain = InputError("bad", file="s3://landing-zone/b/x.tif")
    assert (plain.step, plain.file) == (None, "s3://landing-zone/b/x.tif")
    step = StepError("load", "s3://landing-zone/b/x.gpkg", "ogr2ogr failed")
    assert (step.step, step.file) == ("load", "s3://landing-zone/b/x.gpkg")
    assert SqlStepError("normalise", "boom").step == "normalise"
    recorded = run_error(step)
    assert (recorded.step, recorded.file, recorded.type) == (
        "load",
        "s3://landing-zone/b/x.gpkg",
        "StepError",
    )
    assert run_error(ValueError("x")).step is None


def test_built_in_exceptions_are_mixed_in_where_they_fit() -> None:
    assert isinstance(InputError("x"), ValueError)
    assert isinstance(UnknownIntentError("nope", ["a"]), LookupError)
    assert isinstance(ServiceUnavailableError("down"), ConnectionError)
    timeout = GdalTimeoutError(["gdalwarp", "a", "b"], 3.0, "")
    assert isinstance(timeout, TimeoutError)
    # A GDAL program that ran too long is the input's problem, never an outage to retry.
    assert not is_outage(timeout)
    assert is_outage(ServiceUnavailableError("down"))


def test_a_missing_gdal_program_is_a_file_not_found_error(tmp_path: Path) -> None:
    runner = SubprocessGdalRunner(bin_dir=tmp_path)
    with pytest.raises(FileNotFoundError) as caught:
        runner.run(["gdalinfo", "--version"])
    assert isinstance(caught.value, GdalNotFoundError)


def test_registering_something_that_is_not_an_intent_is_a_declaration_error() -> None:
    registry = IntentRegistry(PluginInfo(name="odd", module="odd_plugin"))
    with pytest.raises(IntentDeclarationError, match=r"registers a dict, not an Intent") as caught:
        registry.register({"name": "ingest_x"})  # type: ignore[arg-type]
    assert isinstance(caught.value, PluginFaultError)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_object_store_is_a_service_outage() -> None:
    store = ObjectStore.from_settings(
        StorageSettings(
            s3_endpoint_url=f"http://127.0.0.1:{_closed_port()}",
            s3_access_key_id="k",
            s3_secret_access_key=SecretStr("s"),
        )
    )
    with pytest.raises(StorageUnavailableError, match=r"s3://landing-zone/b/x\.json") as caught:
        store.head("landing-zone", "b/x.json")
    assert isinstance(caught.value, ConnectionError)
    assert is_outage(caught.value)


@pytest.mark.postgis
def test_an_unreachable_database_is_a_service_outage() -> None:
    dsn = f"postgresql://u:p@127.0.0.1:{_closed_port()}/x"
    engine = PostgisCompute(PostgisSettings(postgis_dsn=SecretStr(dsn), postgis_retry_s=0))
    with pytest.raises(ComputeUnavailableError, match="cannot connect to PostGIS") as caught:
        engine.fetch(sql.SQL("SELECT 1"), step="probe")
    assert is_outage(caught.value)


@pytest.mark.postgis
def test_a_wrong_password_is_a_compute_error_but_no_outage(postgis_dsn: str) -> None:
    import psycopg2.extensions

    params = psycopg2.extensions.parse_dsn(postgis_dsn)
    params["password"] = "wrong"  # noqa: S105 - deliberately wrong
    engine = PostgisCompute(
        PostgisSettings(postgis_dsn=SecretStr(psycopg2.extensions.make_dsn(**params)))
    )
    with pytest.raises(ComputeError, match="password authentication failed") as caught:
        engine.fetch(sql.SQL("SELECT 1"), step="probe")
    assert not isinstance(caught.value, ServiceUnavailableError)
