"""Every run ends: an exception of any type, in any stage, is a recorded failed run, a failed
batch and a manifest in ``failed/`` with its report; settling survives its own failures.

Real S3 (moto's server), PostGIS and GDAL; the faults are injected in-process.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from invariants import assert_converged
from pymongo.errors import AutoReconnect
from spatial_etl.errors import SettleError, StorageError
from spatial_etl.run import executor, pipelines, publishing, staging
from spatial_etl.run.intake import (
    FAILED,
    PROCESSED,
    RunTicket,
    examine,
    pending_manifests,
    run_batch,
)
from spatial_etl.run.reconcile import reconcile
from support import World, manifest, raster_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]


def _commit(world: World, document: dict[str, Any]) -> None:
    world.store.put_bytes(
        world.store.settings.landing_bucket,
        f"manifests/{document['batch_id']}.json",
        json.dumps(document).encode(),
        metadata={},
    )


def _ticket(world: World, batch: str, make_raster: Callable[..., Path]) -> RunTicket:
    path = world.upload(batch, make_raster(f"{batch}.tif"))
    _commit(world, manifest(batch, "ingest_satellite_raster", [raster_file(path, "EPSG:4326")]))
    [ref] = [r for r in pending_manifests(world.store) if r.stem == batch]
    ticket = examine(ref, world.platform, grace_period_s=0)
    assert isinstance(ticket, RunTicket)
    return ticket


def _report(world: World, key: str) -> dict[str, Any]:
    data, _ = world.store.get_bytes(world.store.settings.landing_bucket, key)
    return json.loads(data)


def _boom(error: BaseException) -> Callable[..., Any]:
    def raise_(*_args: Any, **_kwargs: Any) -> Any:
        raise error

    return raise_


STAGES: dict[str, tuple[Any, str, BaseException]] = {
    "stage": (staging, "_download", RuntimeError("disk on fire")),
    "inspect": (executor, "inspect_input", KeyError("coordinateSystem")),
    "process": (pipelines, "run_raster_plan", MemoryError("cannot allocate")),
    "publish-document": (publishing, "_document", ValueError("east must be <= 180")),
    "publish-upload": (publishing, "_upload_and_verify", ConnectionResetError(104, "reset")),
    "parameters": (executor, "_parameters", TypeError("plugin model raised")),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_an_exception_of_any_type_in_any_stage_is_a_recorded_failure(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    module, name, error = STAGES[stage]
    batch = f"b_{stage.replace('-', '_')}"
    ticket = _ticket(world, batch, make_raster)
    monkeypatch.setattr(module, name, _boom(error))
    run_id = f"run-{uuid.uuid4()}"
    report = run_batch(ticket.ref, run_id, world.platform)
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.type == type(error).__name__
    assert str(error) in report.error.message or type(error).__name__ in report.error.message
    run = world.ledger.get_run(run_id)
    assert run is not None
    assert (run.status, run.error) == ("failed", report.error)
    batch_doc = world.ledger.get_batch(batch)
    assert batch_doc is not None
    assert (batch_doc.status, batch_doc.lease) == ("failed", None)
    failure = _report(world, f"{FAILED}{batch}.report.json")
    assert failure["error"]["type"] == type(error).__name__
    assert world.lake_keys() == []
    assert_converged(world.platform, batches=[batch])
    assert not list(world.tmp.glob("spatial-etl-run-*"))  # the work directory went too


def test_a_ledger_outage_at_commit_is_finished_by_the_reconciler(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = _ticket(world, "b_commit", make_raster)
    original = world.ledger.commit_asset
    monkeypatch.setattr(world.ledger, "commit_asset", _boom(AutoReconnect("connection reset")))
    run_id = f"run-{uuid.uuid4()}"
    report = run_batch(ticket.ref, run_id, world.platform)
    assert report.status == "failed"
    assert report.error is not None
    assert report.error.type == "AutoReconnect"
    # the commit may have reached the server before the connection broke: the object stays,
    # its document stays pending, and nothing is deleted that a committed document could name
    [asset] = world.ledger.assets_of_batch("b_commit")
    assert asset.status == "pending"
    assert world.data_keys() == [asset.s3_key]
    monkeypatch.setattr(world.ledger, "commit_asset", original)
    done = reconcile(world.platform, is_run_alive=lambda _: False)
    assert done.committed_assets == [asset.asset_id]
    committed = world.ledger.get_asset(asset.asset_id)
    assert committed is not None
    assert committed.status == "committed"
    run = world.ledger.get_run(run_id)
    assert run is not None
    assert run.outputs == [asset.asset_id]
    assert_converged(world.platform, batches=["b_commit"])


def test_an_interrupt_is_recorded_then_re_raised(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = _ticket(world, "b_sigterm", make_raster)
    monkeypatch.setattr(pipelines, "run_raster_plan", _boom(KeyboardInterrupt()))
    run_id = f"run-{uuid.uuid4()}"
    with pytest.raises(KeyboardInterrupt):
        run_batch(ticket.ref, run_id, world.platform)
    run = world.ledger.get_run(run_id)
    assert run is not None
    assert run.status == "failed"
    assert run.error is not None
    assert run.error.type == "KeyboardInterrupt"
    assert "interrupted" in run.error.message
    assert not list(world.tmp.glob("spatial-etl-run-*"))  # finally blocks ran
    # the interrupted process never settled: the reconciler does, once the run is dead
    reconcile(world.platform, is_run_alive=lambda _: False)
    assert_converged(world.platform, batches=["b_sigterm"])
    assert world.store.head(world.store.settings.landing_bucket, f"{FAILED}b_sigterm.json")


def test_a_settle_that_fails_is_finished_by_the_next_tick(
    world: World, make_raster: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    ticket = _ticket(world, "b_settle", make_raster)
    original = world.store.move
    monkeypatch.setattr(world.store, "move", _boom(StorageError("endpoint unreachable", code=None)))
    with pytest.raises(SettleError, match="moving the manifest"):
        run_batch(ticket.ref, f"run-{uuid.uuid4()}", world.platform)
    batch = world.ledger.get_batch("b_settle")
    assert batch is not None
    assert batch.status == "succeeded"  # the ledger knows; the manifest is still pending
    monkeypatch.setattr(world.store, "move", original)
    [ref] = pending_manifests(world.store)
    decision = examine(ref, world.platform, grace_period_s=0)
    assert type(decision).__name__ == "Settled"
    assert world.store.head(world.store.settings.landing_bucket, f"{PROCESSED}b_settle.json")
    assert_converged(world.platform, batches=["b_settle"])


def test_a_second_run_of_a_running_batch_publishes_nothing(
    world: World, make_raster: Callable[..., Path]
) -> None:
    ticket = _ticket(world, "b_twice", make_raster)
    world.ledger.acquire_batch("b_twice", "run-first")
    second = run_batch(ticket.ref, "run-second", world.platform)
    assert second.status == "failed"
    assert second.error is not None
    assert second.error.type == "BatchBusyError"
    assert "run-first" in second.error.message
    assert world.lake_keys() == []
    assert [r.key for r in pending_manifests(world.store)] == ["manifests/b_twice.json"]
    batch = world.ledger.get_batch("b_twice")
    assert batch is not None
    assert batch.lease is not None
    assert batch.lease.run_id == "run-first"
    # the first run's process is gone: the reconciler frees the batch for a re-upload
    reconcile(world.platform, is_run_alive=lambda _: False)
    assert_converged(world.platform, batches=["b_twice"])
