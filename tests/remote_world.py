"""The tests' ``World`` rebuilt in a child process, on a ledger shared with the test.

:func:`remote_world` makes a :class:`support.World` whose ledger is the shared ledger server's
(so the test sees what a killed child wrote); :func:`world_payload` describes it as JSON;
:func:`platform_from_payload` builds the same :class:`Platform` in the child (same buckets,
PostGIS, plugins, GDAL runner, ledger). ``remote_world:execute_manifest`` is a ready-made
child target: ``spawn("remote_world:execute_manifest", {"world": ..., "manifest": ...,
"run_id": ...}, log=...)`` runs the manifest and returns the run's report as JSON; its
optional ``"holds"`` stop the run at exact points (:func:`install_holds`) for the test to
kill it there.
"""

from __future__ import annotations

import functools
import importlib
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ledger_server import LedgerAddress, connect_ledger
from processes import checkpoint
from pydantic import BaseModel, ConfigDict, SecretStr
from pydantic_settings import BaseSettings
from spatial_etl.backends.compute import PostgisCompute
from spatial_etl.backends.storage import ObjectStore
from spatial_etl.models import Manifest
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.run.executor import Platform, execute_run
from spatial_etl.settings import PluginSettings, PostgisSettings, StorageSettings
from spatial_etl.spatial_utils.runner import SubprocessGdalRunner
from support import World, make_world


class WorldPayload(BaseModel):
    """Everything a child needs to build the platform of a test's world (secrets in clear)."""

    model_config = ConfigDict(extra="forbid")

    storage: dict[str, Any]
    postgis: dict[str, Any]
    ledger: LedgerAddress
    workdir: str
    gdal_timeout_s: float = 120.0
    plugins: list[str] | None = None
    block_plugins: list[str] = []


def _revealed(settings: BaseSettings) -> dict[str, Any]:
    return {
        key: value.get_secret_value() if isinstance(value, SecretStr) else value
        for key, value in settings.model_dump().items()
    }


def world_payload(
    world: World, ledger_address: LedgerAddress, *, s3_endpoint_url: str | None = None
) -> dict[str, Any]:
    """The JSON-able description of ``world`` (``s3_endpoint_url`` overrides, e.g. a proxy)."""
    storage = _revealed(world.store.settings)
    if s3_endpoint_url is not None:
        storage["s3_endpoint_url"] = s3_endpoint_url
    payload = WorldPayload(
        storage=storage,
        postgis=_revealed(world.compute.settings),
        ledger=ledger_address,
        workdir=str(world.tmp),
    )
    return payload.model_dump(mode="json")


def platform_from_payload(payload: Mapping[str, Any]) -> Platform:
    """The platform :func:`world_payload` describes, built in this process."""
    described = WorldPayload.model_validate(payload)
    plugins = PluginSettings(
        plugins=None if described.plugins is None else frozenset(described.plugins),
        block_plugins=frozenset(described.block_plugins),
    )
    return Platform(
        store=ObjectStore.from_settings(StorageSettings(**described.storage)),
        ledger=connect_ledger(described.ledger),
        runner=SubprocessGdalRunner(timeout_s=described.gdal_timeout_s),
        catalog=load_plugins(plugins),
        compute=PostgisCompute(PostgisSettings(**described.postgis)),
        workdir=Path(described.workdir),
    )


class Hold(BaseModel):
    """Stop at a call: announce checkpoint ``name`` before (or after) it, then wait ``hold_s``.

    ``at`` is ``module:attribute`` or ``module:Class.method`` as the *caller* looks it up:
    ``spatial_etl.backends.ledger:Ledger.commit_asset`` (a method, found through the class), or
    ``spatial_etl.run.executor:publish`` (a function the executor imported by name).
    """

    model_config = ConfigDict(extra="forbid")

    at: str
    name: str
    after: bool = False
    hold_s: float = 600.0


def install_holds(holds: list[Mapping[str, Any]]) -> None:
    """Wrap each hold's target so the run stops there (in a child; see ``processes.checkpoint``)."""
    for raw in holds:
        hold = Hold.model_validate(raw)
        module_name, _, path = hold.at.partition(":")
        *parents, attribute = path.split(".")
        owner: Any = importlib.import_module(module_name)
        for parent in parents:
            owner = getattr(owner, parent)
        original = getattr(owner, attribute)

        def held(*args: Any, _hold: Hold = hold, _original: Any = original, **kwargs: Any) -> Any:
            if not _hold.after:
                checkpoint(_hold.name, hold_s=_hold.hold_s)
            result = _original(*args, **kwargs)
            if _hold.after:
                checkpoint(_hold.name, hold_s=_hold.hold_s)
            return result

        setattr(owner, attribute, functools.wraps(original)(held))


def execute_manifest(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Child target: run ``payload["manifest"]`` on ``payload["world"]``; the report as JSON.

    ``payload["holds"]`` (optional) is a list of :class:`Hold` mappings.
    """
    install_holds(list(payload.get("holds", [])))
    platform = platform_from_payload(payload["world"])
    raw = payload["manifest"]
    manifest = Manifest.model_validate(raw, context={"manifest_name": raw["batch_id"] + ".json"})
    run_id = payload.get("run_id") or f"run-{uuid.uuid4()}"
    try:
        report = execute_run(run_id, manifest, platform)
    finally:
        if platform.compute is not None:
            platform.compute.close()
    return report.model_dump(mode="json")


@contextmanager
def remote_world(postgis_dsn: str, tmp_path: Path, address: LedgerAddress) -> Iterator[World]:
    """Like ``support.make_world``, but the ledger is the shared server's at ``address``."""
    ledger = connect_ledger(address)
    try:
        with make_world(postgis_dsn, tmp_path, ledger) as world:
            yield world
    finally:
        ledger.close()
