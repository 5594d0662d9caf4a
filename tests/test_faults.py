"""Fault injection against the real services: the platform converges whatever kills a run.

Each run executes in a child process (a fresh interpreter, as a Dagster run worker is) on real
S3 (moto's server), PostGIS and the GDAL CLI, with the ledger on a server process shared with
the test (``ledger_server.py``: MongoDB cannot be installed here). The test kills or starves the
child at a chosen point, then runs the reconciler and asserts the convergence invariants
(``invariants.py``) and that a re-upload of the batch succeeds with exactly one version.
"""

from __future__ import annotations

import json
import os
import signal
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import pytest
from invariants import assert_converged
from ledger_server import ledger_unavailable
from postgis_control import start_postgis, stop_postgis
from processes import Child, wait_for_checkpoint, wait_for_descendant, wait_until
from psycopg2 import sql
from remote_world import world_payload
from spatial_etl.backends.compute import schema_for_run
from spatial_etl.run.intake import (
    FAILED,
    PROCESSED,
    RunTicket,
    examine,
    pending_manifests,
    run_batch,
)
from spatial_etl.run.reconcile import reconcile
from support import World, manifest, raster_file, vector_file
from tcp_proxy import TcpProxy

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

Spawn = Callable[..., Child]


# ----------------------------------------------------------------------------- helpers


def _square(index: int) -> str:
    x, y = 500000 + (index % 300) * 100, 5500000 + (index // 300) * 100
    return f"POLYGON(({x} {y}, {x + 90} {y}, {x + 90} {y + 90}, {x} {y + 90}, {x} {y}))"


def _vector_batch(world: World, make_vector: Callable[..., Path], batch: str, rows: int) -> str:
    source = make_vector(
        f"{batch}.gpkg",
        [{"wkt": _square(i), "name": f"parcel {i}"} for i in range(rows)],
        crs="EPSG:32633",
    )
    path = world.upload(batch, source)
    _commit(world, manifest(batch, "ingest_vector_boundary", [vector_file(path, "GPKG")]))
    return path


def _raster_batch(world: World, make_raster: Callable[..., Path], batch: str) -> str:
    path = world.upload(batch, make_raster(f"{batch}.tif"))
    _commit(world, manifest(batch, "ingest_satellite_raster", [raster_file(path, "EPSG:4326")]))
    return path


def _commit(world: World, document: dict[str, Any]) -> None:
    world.store.put_bytes(
        world.store.settings.landing_bucket,
        f"manifests/{document['batch_id']}.json",
        json.dumps(document).encode(),
        metadata={},
    )


def _ticket(world: World, batch: str) -> RunTicket:
    [ref] = [r for r in pending_manifests(world.store) if r.stem == batch]
    ticket = examine(ref, world.platform, grace_period_s=0)
    assert isinstance(ticket, RunTicket), ticket
    return ticket


def _start(
    spawn_child: Spawn,
    world: World,
    ledger: Any,
    ticket: RunTicket,
    run_id: str,
    *,
    holds: list[dict[str, Any]] = (),  # type: ignore[assignment]
    s3_endpoint_url: str | None = None,
) -> Child:
    payload = {
        "world": world_payload(world, ledger, s3_endpoint_url=s3_endpoint_url),
        "ref": ticket.ref.model_dump(mode="json"),
        "run_id": run_id,
        "holds": list(holds),
    }
    return spawn_child("fault_targets:run_batch_target", payload)


def _kill(child: Child) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _retry_succeeds(world: World, batch: str, versions: int = 1) -> None:
    """Re-upload the manifest (new bytes); its run succeeds; the dataset has one version."""
    data, _ = world.store.get_bytes(world.store.settings.landing_bucket, f"{FAILED}{batch}.json")
    document = json.loads(data)
    document["metadata"]["retry"] = "yes"
    _commit(world, document)
    ticket = _ticket(world, batch)
    report = run_batch(ticket.ref, f"run-{uuid.uuid4()}", world.platform)
    assert report.status == "succeeded", report.error
    assert world.store.head(world.store.settings.landing_bucket, f"{PROCESSED}{batch}.json")
    committed = world.ledger.list_assets(dataset=batch, latest_only=False)
    assert [doc.version for doc in committed] == list(range(versions, 0, -1))


def _converge(world: World, batch: str, run_id: str) -> Any:
    done = reconcile(world.platform, is_run_alive=lambda _: False)
    assert done.errors == [], done.errors
    assert_converged(world.platform, batches=[batch], schemas=[schema_for_run(run_id)])
    run = world.ledger.get_run(run_id)
    assert run is not None
    assert run.status == "failed"
    assert run.error is not None
    assert world.store.head(world.store.settings.landing_bucket, f"{FAILED}{batch}.json")
    assert world.store.head(world.store.settings.landing_bucket, f"{FAILED}{batch}.report.json")
    assert not [p for p in world.tmp.glob("spatial-etl-run-*")]
    return done


# ----------------------------------------------------------------------------- SIGKILL


def test_sigkill_during_ogr2ogr_kills_ogr2ogr_and_converges(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_vector: Callable[..., Path]
) -> None:
    world = shared_world
    _vector_batch(world, make_vector, "k_load", rows=40_000)
    ticket = _ticket(world, "k_load")
    run_id = f"run-{uuid.uuid4()}"
    child = _start(spawn_child, world, shared_ledger, ticket, run_id)
    ogr2ogr = wait_for_descendant(child, {"ogr2ogr"}, timeout=120)
    ogr2ogr.suspend()  # hold it mid-load, so the kill lands during ogr2ogr for certain
    _kill(child)
    ogr2ogr.resume()
    wait_until(lambda: _gone(ogr2ogr.pid), 10, message="ogr2ogr outlived its run process")
    assert world.ledger.get_run(run_id).status == "running"  # type: ignore[union-attr]
    schema = schema_for_run(run_id)
    assert schema in {name for name, _ in world.compute.run_schemas()}  # left by the kill
    done = _converge(world, "k_load", run_id)
    assert schema in done.dropped_schemas
    assert done.failed_runs == [run_id]
    assert world.lake_keys() == []
    _retry_succeeds(world, "k_load")


def test_sigkill_during_the_export_converges(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_vector: Callable[..., Path]
) -> None:
    world = shared_world
    _vector_batch(world, make_vector, "k_export", rows=2_000)
    ticket = _ticket(world, "k_export")
    run_id = f"run-{uuid.uuid4()}"
    hold = {"at": "spatial_etl.export.geoparquet:export_geoparquet", "name": "export"}
    child = _start(spawn_child, world, shared_ledger, ticket, run_id, holds=[hold])
    wait_for_checkpoint(child, "export", timeout=120)
    _kill(child)
    _converge(world, "k_export", run_id)
    assert world.lake_keys() == []
    _retry_succeeds(world, "k_export")


def test_sigkill_while_the_rewrite_copies_the_table_converges(
    shared_world: World,
    shared_ledger: Any,
    spawn_child: Spawn,
    make_vector: Callable[..., Path],
    pg_conn: Any,
) -> None:
    """Killed inside the ``rewrite`` step's transaction: the copy never replaces the table.

    The test holds an exclusive lock on the run's table when the step is about to run, so
    the step's CREATE TABLE AS waits inside its transaction; the run is killed there, then the
    lock released: the server finds its client gone, rolls back, and the janitor drops the
    schema with no copy left.
    """
    world = shared_world
    _vector_batch(world, make_vector, "k_rewrite", rows=2_000)
    ticket = _ticket(world, "k_rewrite")
    run_id = f"run-{uuid.uuid4()}"
    hold = {"at": "spatial_etl.steps.rewrite:_statement", "name": "rewrite", "hold_s": 2.0}
    child = _start(spawn_child, world, shared_ledger, ticket, run_id, holds=[hold])
    wait_for_checkpoint(child, "rewrite", timeout=120)
    schema = schema_for_run(run_id)
    pg_conn.autocommit = False
    try:
        with pg_conn.cursor() as cur:
            cur.execute(
                sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                    sql.Identifier(schema, "input_0")
                )
            )

            def copy_waits() -> bool:
                # Inside a transaction the activity view is a snapshot: refresh it each time.
                cur.execute("SELECT pg_stat_clear_snapshot()")
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query LIKE %s",
                    (f'CREATE UNLOGGED TABLE "{schema}"."input_0_rewrite"%',),
                )
                row = cur.fetchone()
                return bool(row and row[0] == 1)

            wait_until(copy_waits, 20, message="the rewrite's copy waiting on the table")
            _kill(child)
    finally:
        pg_conn.rollback()
        pg_conn.autocommit = True
    done = _converge(world, "k_rewrite", run_id)
    assert schema in done.dropped_schemas  # the table, and no input_0_rewrite, went with it
    assert world.lake_keys() == []
    _retry_succeeds(world, "k_rewrite")


def test_sigkill_between_the_upload_and_the_commit_converges_to_one_version(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_raster: Callable[..., Path]
) -> None:
    world = shared_world
    _raster_batch(world, make_raster, "k_commit")
    ticket = _ticket(world, "k_commit")
    run_id = f"run-{uuid.uuid4()}"
    hold = {"at": "spatial_etl.backends.ledger:Ledger.commit_asset", "name": "uploaded"}
    child = _start(spawn_child, world, shared_ledger, ticket, run_id, holds=[hold])
    wait_for_checkpoint(child, "uploaded", timeout=120)
    _kill(child)
    [asset] = world.ledger.assets_of_batch("k_commit")
    assert asset.status == "pending"
    assert world.data_keys() == [asset.s3_key]  # a complete object, not yet committed
    done = _converge(world, "k_commit", run_id)
    assert done.committed_assets == [asset.asset_id]  # it names its document, hash and size
    _retry_succeeds(world, "k_commit")  # the same content: a duplicate, not a second version
    assert [d.status for d in world.ledger.assets_of_batch("k_commit")] == [
        "committed",
        "duplicate",
    ]


def test_sigkill_between_the_data_and_its_sidecars_leaves_nothing(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_raster: Callable[..., Path]
) -> None:
    """Killed after the data object landed, before its ISO record and STAC Item: the version
    is incomplete, so the reconciler deletes what landed and fails it; a retry publishes v1."""
    world = shared_world
    _raster_batch(world, make_raster, "k_sidecars")
    ticket = _ticket(world, "k_sidecars")
    run_id = f"run-{uuid.uuid4()}"
    hold = {"at": "spatial_etl.run.catalogue:upload_sidecars", "name": "data-landed"}
    child = _start(spawn_child, world, shared_ledger, ticket, run_id, holds=[hold])
    wait_for_checkpoint(child, "data-landed", timeout=120)
    _kill(child)
    [asset] = world.ledger.assets_of_batch("k_sidecars")
    assert asset.status == "pending"
    assert [item.role for item in asset.sidecars] == ["iso19139", "thumbnail", "stac_item"]
    assert world.lake_keys() == [asset.s3_key]
    done = _converge(world, "k_sidecars", run_id)
    assert done.failed_assets == [asset.asset_id]
    assert world.lake_keys() == []
    _retry_succeeds(world, "k_sidecars")


def test_sigkill_after_the_commit_before_the_catalogue_is_caught_up(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_raster: Callable[..., Path]
) -> None:
    """Killed once committed, before the Collection and Catalog were rewritten: the version
    stands; the reconciler writes the catalogue the run could not."""
    world = shared_world
    _raster_batch(world, make_raster, "k_catalogue")
    ticket = _ticket(world, "k_catalogue")
    run_id = f"run-{uuid.uuid4()}"
    hold = {"at": "spatial_etl.run.catalogue:refresh", "name": "committed"}
    child = _start(spawn_child, world, shared_ledger, ticket, run_id, holds=[hold])
    wait_for_checkpoint(child, "committed", timeout=120)
    _kill(child)
    [asset] = world.ledger.assets_of_batch("k_catalogue")
    assert (asset.status, asset.catalogued_at) == ("committed", None)
    done = _converge(world, "k_catalogue", run_id)
    assert "ingest_satellite_raster/k_catalogue" in done.catalogued_datasets
    _retry_succeeds(world, "k_catalogue")


# ----------------------------------------------------------------------------- outages


def test_postgis_stopped_and_restarted_during_a_load_fails_with_the_real_cause(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_vector: Callable[..., Path]
) -> None:
    world = shared_world
    _vector_batch(world, make_vector, "pg_down", rows=40_000)
    ticket = _ticket(world, "pg_down")
    run_id = f"run-{uuid.uuid4()}"
    child = _start(spawn_child, world, shared_ledger, ticket, run_id)
    ogr2ogr = wait_for_descendant(child, {"ogr2ogr"}, timeout=120)
    try:
        stop_postgis("immediate")
        child.wait(timeout=180)
    finally:
        start_postgis()
    assert child.returncode == 0, child.log_tail()
    report = child.result()
    assert report["status"] == "failed"
    assert report["error"]["step"] == "load"
    assert report["error"]["type"] == "StepError"
    assert "ogr2ogr" in report["error"]["message"]  # the load's own error, not the drop's
    assert _gone(ogr2ogr.pid)
    done = reconcile(world.platform, is_run_alive=lambda _: False)
    assert done.errors == []
    assert_converged(world.platform, batches=["pg_down"], schemas=[schema_for_run(run_id)])
    _retry_succeeds(world, "pg_down")


def test_s3_unreachable_longer_than_the_retries_fails_cleanly_and_converges(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_raster: Callable[..., Path]
) -> None:
    world = shared_world
    _raster_batch(world, make_raster, "s3_down")
    ticket = _ticket(world, "s3_down")
    run_id = f"run-{uuid.uuid4()}"
    endpoint = urlsplit(os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"])
    hold = {
        "at": "spatial_etl.backends.storage:ObjectStore.put_file",
        "name": "upload",
        "hold_s": 3,
    }
    with TcpProxy(endpoint.hostname or "127.0.0.1", endpoint.port or 80) as proxy:
        child = _start(
            spawn_child,
            world,
            shared_ledger,
            ticket,
            run_id,
            holds=[hold],
            s3_endpoint_url=proxy.url(),
        )
        wait_for_checkpoint(child, "upload", timeout=120)
        proxy.refuse()  # the store goes away before the lake upload
        child.wait(timeout=300)
        proxy.forward()
    log = child.log_tail()
    assert child.returncode == 1, log  # settling could not reach the store: SettleError
    assert "SettleError" in log
    run = world.ledger.get_run(run_id)
    assert run is not None
    assert run.status == "failed"
    assert run.error is not None
    assert run.error.type in ("PublishError", "StorageError")
    assert world.lake_keys() == []
    reconcile(world.platform, is_run_alive=lambda _: False)
    [ref] = pending_manifests(world.store)  # the next tick settles the manifest
    assert type(examine(ref, world.platform, grace_period_s=0)).__name__ == "Settled"
    assert_converged(world.platform, batches=["s3_down"], schemas=[schema_for_run(run_id)])
    _retry_succeeds(world, "s3_down")


# ----------------------------------------------------------------------------- concurrency


def test_two_runs_of_one_batch_at_once_publish_one_version(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_raster: Callable[..., Path]
) -> None:
    world = shared_world
    _raster_batch(world, make_raster, "twice")
    ticket = _ticket(world, "twice")
    first_id, second_id = f"run-{uuid.uuid4()}", f"run-{uuid.uuid4()}"
    hold = {"at": "spatial_etl.run.executor:stage_inputs", "name": "staging", "hold_s": 10}
    first = _start(spawn_child, world, shared_ledger, ticket, first_id, holds=[hold])
    wait_for_checkpoint(first, "staging", timeout=120)  # the first holds the lease
    # the second run, in this process, while the first is mid-run in its own
    refused = run_batch(ticket.ref, second_id, world.platform)
    first.wait(timeout=120)
    assert first.returncode == 0, first.log_tail()
    assert first.result()["status"] == "succeeded"
    assert refused.status == "failed"
    assert refused.error is not None
    assert refused.error.type == "BatchBusyError"
    assert first_id in refused.error.message
    second = world.ledger.get_run(second_id)
    assert second is not None
    assert second.status == "failed"  # recorded, and it changed nothing else
    committed = world.ledger.list_assets(dataset="twice", latest_only=False)
    assert [doc.version for doc in committed] == [1]
    assert world.store.head(world.store.settings.landing_bucket, f"{PROCESSED}twice.json")
    reconcile(world.platform, is_run_alive=lambda _: False)
    assert_converged(world.platform, batches=["twice"])


def test_the_ledger_unreachable_mid_run_is_finished_when_it_returns(
    shared_world: World, shared_ledger: Any, spawn_child: Spawn, make_raster: Callable[..., Path]
) -> None:
    world = shared_world
    _raster_batch(world, make_raster, "mongo_down")
    ticket = _ticket(world, "mongo_down")
    run_id = f"run-{uuid.uuid4()}"
    hold = {"at": "spatial_etl.run.executor:publish", "name": "publish", "hold_s": 3}
    child = _start(spawn_child, world, shared_ledger, ticket, run_id, holds=[hold])
    wait_for_checkpoint(child, "publish", timeout=120)
    with ledger_unavailable(shared_ledger):
        child.wait(timeout=300)
        assert child.returncode == 1, child.log_tail()  # the ledger could not settle the batch
        assert "SettleError" in child.log_tail()
        # the uploader is told all the same: the landing zone does not need the ledger
        failure = json.loads(
            world.store.get_bytes(
                world.store.settings.landing_bucket, f"{FAILED}mongo_down.report.json"
            )[0]
        )
        assert failure["error"]["type"] == "ServerSelectionTimeoutError"
        assert failure["recorded"] is False
    done = reconcile(world.platform, is_run_alive=lambda _: False)
    assert done.failed_runs == [run_id]
    assert done.settled_batches == ["mongo_down"]
    assert world.lake_keys() == []
    assert_converged(world.platform, batches=["mongo_down"], schemas=[schema_for_run(run_id)])
    kept = json.loads(
        world.store.get_bytes(
            world.store.settings.landing_bucket, f"{FAILED}mongo_down.report.json"
        )[0]
    )
    assert kept["error"]["type"] == "ServerSelectionTimeoutError"  # the real cause stays
    _retry_succeeds(world, "mongo_down")
