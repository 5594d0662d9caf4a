"""The fault-injection kit itself: shared ledger, child processes, TCP proxy, PostGIS restarts.

Functions named ``child_*`` are targets run in spawned children (``fault_kit_targets:child_...``).
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import botocore.exceptions
import psycopg2
import pytest
from ledger_server import (
    LedgerAddress,
    connect_database,
    connect_ledger,
    ledger_unavailable,
    set_unavailable,
)
from postgis_control import postgis_down, postgis_running, restart_postgis
from processes import (
    Child,
    descendants_alive,
    kill,
    kill_tree,
    wait_for_checkpoint,
    wait_for_descendant,
    wait_until,
)
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, ServerSelectionTimeoutError
from remote_world import world_payload
from spatial_etl.errors import DuplicateAssetError
from spatial_etl.models.ledger import (
    AssetDocument,
    BatchDocument,
    InputRecord,
    PluginRecord,
    RunDocument,
    new_asset_id,
)
from spatial_etl.plugins.registry import PluginInfo
from support import World, manifest, raster_file
from tcp_proxy import TcpProxy

Spawn = Callable[..., Child]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SHA = "c" * 64

# ----------------------------------------------------------------------------- documents

PLUGIN = PluginRecord.from_info(
    PluginInfo(
        name="satellite_raster",
        distribution="spatial-etl-satellite-raster",
        version="0.1.0",
        module="spatial_etl_satellite_raster.plugin",
    )
)
INPUT = InputRecord(
    path="s3://landing-zone/b1/a.tif", bucket="landing-zone", key="b1/a.tif", sha256=SHA, size=10
)


def _batch() -> BatchDocument:
    return BatchDocument(
        batch_id="b1",
        manifest_key="manifests/b1.json",
        manifest_etag='"etag-1"',
        manifest_sha256=SHA,
        uploader="tests",
        intent="ingest_satellite_raster",
        status="received",
        problems=[],
        received_at=T0,
        updated_at=T0,
        run_ids=[],
        manifest=manifest(
            "b1", "ingest_satellite_raster", [raster_file("s3://landing-zone/b1/a.tif")]
        ),
    )


def _run(run_id: str) -> RunDocument:
    return RunDocument(
        run_id=run_id,
        batch_id="b1",
        intent="ingest_satellite_raster",
        plugin=PLUGIN,
        status="running",
        started_at=T0,
        finished_at=None,
        error=None,
        inputs=[INPUT],
        outputs=[],
        timings={},
        versions={"spatial-etl": "0.1.0"},
    )


def _asset(run_id: str, version: int = 1) -> AssetDocument:
    asset_id = new_asset_id()
    key = f"ingest_satellite_raster/scene/v{version}/scene.tif"
    return AssetDocument.model_validate(
        {
            "asset_id": asset_id,
            "status": "pending",
            "intent": "ingest_satellite_raster",
            "dataset": "scene",
            "version": version,
            "bucket": "data-lake",
            "s3_key": key,
            "sha256": SHA,
            "size": 10,
            "format": "COG",
            "crs": "EPSG:32633",
            "bbox_wgs84": (10.0, 49.0, 10.1, 49.1),
            "feature_count": None,
            "columns": [],
            "raster": {"width": 2, "height": 2, "bands": 1, "dtype": "Byte", "nodata": None},
            "run_id": run_id,
            "batch_id": "b1",
            "plugin": PLUGIN,
            "inputs": [INPUT],
            "parameters": {},
            "iso19115": {
                "title": "scene",
                "abstract": "scene",
                "extent": {"west": 10.0, "south": 49.0, "east": 10.1, "north": 49.1},
                "reference_system": "EPSG:32633",
                "lineage": {"statement": "tests", "steps": ["export: COG"]},
                "distribution": {"format": "COG", "s3_uri": f"s3://data-lake/{key}"},
            },
            "duplicate_of": None,
            "created_at": T0,
            "committed_at": None,
        }
    )


# ----------------------------------------------------------------------------- shared ledger


def test_two_processes_see_each_others_writes(
    shared_ledger: LedgerAddress, spawn_child: Spawn
) -> None:
    db = connect_database(shared_ledger)
    db["scratch"].insert_one({"_id": "from-test"})
    child = spawn_child(
        "fault_kit_targets:child_write_and_read", {"address": shared_ledger.to_json()}
    )
    assert child.wait(timeout=30) == 0, child.log_tail()
    assert child.result() == ["from-child", "from-test"]
    assert db["scratch"].find_one({"_id": "from-child"}) is not None
    assert "scratch" in db.list_collection_names()


def test_unique_indexes_hold_across_processes(
    shared_ledger: LedgerAddress, spawn_child: Spawn
) -> None:
    ledger = connect_ledger(shared_ledger)
    held = _asset("run-1")
    ledger.insert_pending_asset(held)
    rival = _asset("run-2").model_dump(by_alias=True)  # same intent, dataset, version and key
    child = spawn_child(
        "fault_kit_targets:child_insert_asset",
        {"address": shared_ledger.to_json(), "document": {**rival, "created_at": None}},
    )
    assert child.wait(timeout=30) == 0, child.log_tail()
    outcome = child.result()
    assert outcome == {
        "error": "DuplicateKeyError",
        "code": 11000,
        "message": "E11000 Duplicate Key Error",
    }
    with pytest.raises(DuplicateAssetError, match="already held by another asset"):
        ledger.insert_pending_asset(_asset("run-3"))
    with pytest.raises(DuplicateKeyError) as caught:
        ledger.db["assets"].insert_one(_asset("run-4").model_dump(by_alias=True))
    assert caught.value.code == 11000


def test_tz_aware_datetimes_round_trip(shared_ledger: LedgerAddress) -> None:
    db = connect_database(shared_ledger)
    moment = datetime(2026, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    offset = datetime(2026, 5, 6, 9, 8, 9, tzinfo=UTC) + timedelta(hours=0)
    db["scratch"].insert_one({"_id": 1, "at": moment, "other": offset})
    found = db["scratch"].find_one({"_id": 1})
    assert found is not None
    assert found["at"] == moment and found["at"].utcoffset() == timedelta(0)


def test_ledger_methods_work_through_the_server(shared_ledger: LedgerAddress) -> None:
    ledger = connect_ledger(shared_ledger)
    assert ledger.record_batch(_batch()) is True
    assert ledger.record_batch(_batch()) is False
    ledger.start_run(_run("run-1"))
    ledger.update_batch_status("b1", "running", run_id="run-1")
    asset = _asset("run-1")
    ledger.insert_pending_asset(asset)
    assert ledger.next_version("ingest_satellite_raster", "scene") == 2
    committed = ledger.commit_asset(asset.asset_id, T0 + timedelta(minutes=1))
    assert committed.status == "committed" and committed.committed_at == T0 + timedelta(minutes=1)
    finished = ledger.finish_run("run-1", "succeeded", outputs=[asset.asset_id])
    assert finished.status == "succeeded" and finished.outputs == [asset.asset_id]
    [listed] = ledger.list_assets()
    assert listed.asset_id == asset.asset_id
    assert [a.asset_id for a in ledger.assets_of_batch("b1")] == [asset.asset_id]
    assert [r.run_id for r in ledger.runs_of_batch("b1")] == ["run-1"]
    run = ledger.get_run("run-1")
    assert run is not None and run.started_at.tzinfo is not None
    ledger.close()
    assert ledger.get_batch("b1") is not None  # a closed client reconnects


def test_collection_methods_are_forwarded(shared_ledger: LedgerAddress) -> None:
    items = connect_database(shared_ledger)["items"]
    assert items.name == "items"
    inserted = items.insert_one({"_id": "a", "n": 1, "tag": "x"})
    assert inserted.inserted_id == "a" and inserted.acknowledged is True
    items.insert_many([{"_id": "b", "n": 2, "tag": "x"}, {"_id": "c", "n": 3, "tag": "y"}])
    updated = items.update_one({"_id": "a"}, {"$set": {"n": 10}})
    assert (updated.matched_count, updated.modified_count, updated.upserted_id) == (1, 1, None)
    upserted = items.update_one({"_id": "d"}, {"$set": {"n": 4}}, upsert=True)
    assert upserted.upserted_id == "d" and upserted.matched_count == 0
    assert items.update_many({"tag": "x"}, {"$set": {"seen": True}}).modified_count == 2
    assert items.count_documents({"seen": True}) == 2
    after = items.find_one_and_update(
        {"_id": "b"}, {"$inc": {"n": 1}}, return_document=ReturnDocument.AFTER
    )
    assert after is not None and after["n"] == 3
    assert items.find_one_and_update({"_id": "zz"}, {"$set": {"n": 0}}) is None
    assert [d["_id"] for d in items.find({}, sort=[("n", -1)], limit=2)] == ["a", "d"]
    assert [d["_id"] for d in items.find().sort([("n", 1), ("_id", 1)]).skip(1).limit(2)] == [
        "c",
        "d",
    ]
    assert list(items.find({"_id": "c"}, projection={"n": 1, "_id": 0})) == [{"n": 3}]
    assert sorted(items.find({"tag": "x"}).distinct("n")) == [3, 10]
    assert [d["_id"] for d in items.aggregate([{"$match": {"tag": "y"}}])] == ["c"]
    assert items.delete_one({"_id": "d"}).deleted_count == 1
    assert items.delete_many({}).deleted_count == 3


def test_a_client_killed_mid_call_leaves_the_server_working(
    shared_ledger: LedgerAddress, spawn_child: Spawn
) -> None:
    db = connect_database(shared_ledger)
    for _ in range(2):  # killed while its request or reply is in flight, almost surely
        before = db["hammer"].count_documents({})
        child = spawn_child(
            "fault_kit_targets:child_insert_forever", {"address": shared_ledger.to_json()}
        )

        def busy(before: int = before) -> bool:
            return int(db["hammer"].count_documents({})) > before + 20

        wait_until(busy, timeout=30, message=child.log_tail)
        kill(child)
    # a half-open, unauthenticated, garbage-speaking client costs nothing either
    with socket.create_connection((shared_ledger.host, shared_ledger.port)) as raw:
        raw.sendall(b"\x00\x00\x00\x05junk!")
    connect_ledger(shared_ledger).record_batch(_batch())
    assert db["batches"].count_documents({}) == 1
    assert db["hammer"].count_documents({}) > 40


def test_outage_switch(shared_ledger: LedgerAddress, spawn_child: Spawn) -> None:
    ledger = connect_ledger(shared_ledger)
    with ledger_unavailable(shared_ledger):
        with pytest.raises(ServerSelectionTimeoutError, match="simulated ledger outage"):
            ledger.get_batch("b1")
        child = spawn_child(
            "fault_kit_targets:child_write_and_read", {"address": shared_ledger.to_json()}
        )
        assert child.wait(timeout=30) == 1
        assert "ServerSelectionTimeoutError" in child.log_tail()
    assert ledger.get_batch("b1") is None
    set_unavailable(shared_ledger, True)
    with pytest.raises(ServerSelectionTimeoutError):
        connect_database(shared_ledger)["scratch"].insert_one({})
    set_unavailable(shared_ledger, False)
    assert connect_database(shared_ledger)["scratch"].count_documents({}) == 0


# ----------------------------------------------------------------------------- processes


def test_spawned_child_returns_its_result_and_sees_env(spawn_child: Spawn) -> None:
    child = spawn_child(
        "fault_kit_targets:child_echo", {"a": [1, 2]}, env={"FAULT_KIT_TEST": "yes"}
    )
    assert child.wait(timeout=30) == 0, child.log_tail()
    assert child.result() == {"payload": {"a": [1, 2]}, "env": "yes"}
    assert child.pid != os.getpid()


def test_failing_child_exits_1_with_its_traceback(spawn_child: Spawn) -> None:
    child = spawn_child("fault_kit_targets:child_fail", {"why": "on purpose"})
    assert child.wait(timeout=30) == 1
    assert "ValueError: told to fail: on purpose" in child.log.read_text()
    with pytest.raises(TimeoutError, match="exited with 1"):
        wait_for_descendant(child, {"sleep"}, timeout=5)


def test_kill_leaves_descendants_and_kill_tree_reaps_them(spawn_child: Spawn) -> None:
    child = spawn_child("fault_kit_targets:child_sleep_under", {"seconds": 60})
    sleeper = wait_for_descendant(child, {"sleep"}, timeout=30)
    assert sleeper.name() == "sleep"
    assert kill(child) == -9
    assert descendants_alive([sleeper.pid]) == [sleeper.pid]  # orphaned, as after a crash
    killed = kill_tree(child)
    assert sleeper.pid in killed
    wait_until(lambda: not descendants_alive([sleeper.pid]), timeout=5)


def test_checkpoint_holds_the_child_until_killed(spawn_child: Spawn) -> None:
    child = spawn_child("fault_kit_targets:child_hold_at", {"name": "uploaded"})
    wait_for_checkpoint(child, "uploaded", timeout=30)
    assert child.poll() is None
    assert kill(child) == -9
    with pytest.raises(AssertionError, match="before checkpoint 'never'"):
        wait_for_checkpoint(child, "never", timeout=5)


# ----------------------------------------------------------------------------- TCP proxy


def _s3_through(proxy: TcpProxy, read_timeout: float = 2.0) -> Any:
    config = botocore.config.Config(
        connect_timeout=1,
        read_timeout=read_timeout,
        retries={"max_attempts": 1, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=proxy.url("http"),
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
        config=config,
    )


def _endpoint() -> tuple[str, int]:
    url = os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"]
    host, port = url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    return host, int(port)


@pytest.mark.s3
def test_proxy_forwards_refuses_and_recovers() -> None:
    with TcpProxy(*_endpoint()) as proxy:
        s3 = _s3_through(proxy)
        bucket = f"proxy-{os.getpid()}-{time.monotonic_ns()}"
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"x" * 300_000)
        assert len(s3.get_object(Bucket=bucket, Key="k")["Body"].read()) == 300_000
        proxy.refuse()
        started = time.monotonic()
        with pytest.raises(botocore.exceptions.EndpointConnectionError):
            s3.head_object(Bucket=bucket, Key="k")
        assert time.monotonic() - started < 2
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=1)
        proxy.forward()
        assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 300_000
        proxy.blackhole()
        with pytest.raises(botocore.exceptions.ReadTimeoutError):
            _s3_through(proxy, read_timeout=0.5).head_object(Bucket=bucket, Key="k")
        proxy.forward()
        assert s3.head_object(Bucket=bucket, Key="k")["ContentLength"] == 300_000
        assert proxy.accepted >= 4


def test_proxy_refuse_cuts_open_connections() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, TcpProxy("127.0.0.1", server.getsockname()[1]) as proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=2)
        upstream, _ = server.accept()
        client.sendall(b"ping")
        assert upstream.recv(4) == b"ping"
        upstream.sendall(b"pong")
        assert client.recv(4) == b"pong"
        proxy.refuse()
        with pytest.raises(ConnectionResetError):
            client.recv(4)
        client.close()
        upstream.close()


# ----------------------------------------------------------------------------- PostGIS


@pytest.mark.postgis
def test_restart_breaks_old_connections_and_accepts_new_ones(postgis_dsn: str) -> None:
    before = psycopg2.connect(postgis_dsn)
    before.autocommit = True
    with before.cursor() as cur:
        cur.execute("SELECT 1")
    restart_postgis(0.2)
    assert postgis_running()
    with pytest.raises(psycopg2.OperationalError), before.cursor() as cur:
        cur.execute("SELECT 1")
    before.close()
    with psycopg2.connect(postgis_dsn) as after, after.cursor() as cur:
        cur.execute("SELECT postgis_lib_version()")
        assert cur.fetchone() is not None
    after.close()


@pytest.mark.postgis
def test_postgis_down_refuses_connections_inside_the_block(postgis_dsn: str) -> None:
    started = time.monotonic()
    with postgis_down(0.5):
        assert not postgis_running()
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(postgis_dsn, connect_timeout=2)
    assert time.monotonic() - started >= 0.5
    conn = psycopg2.connect(postgis_dsn)
    conn.close()


# ----------------------------------------------------------------------------- remote world


@pytest.mark.gdal
@pytest.mark.postgis
@pytest.mark.s3
def test_a_child_run_on_the_shared_world_is_killed_between_upload_and_commit(
    shared_world: World,
    shared_ledger: LedgerAddress,
    spawn_child: Spawn,
    make_raster: Callable[..., Path],
) -> None:
    source = make_raster("scene.tif", crs="EPSG:32633", bounds=(500000, 5500000, 500640, 5500480))
    path = shared_world.upload("scene_1", source)
    payload = {
        "world": world_payload(shared_world, shared_ledger),
        "manifest": manifest("scene_1", "ingest_satellite_raster", [raster_file(path)]),
        "run_id": "r1",
        "holds": [{"at": "spatial_etl.backends.ledger:Ledger.commit_asset", "name": "uploaded"}],
    }
    child = spawn_child("remote_world:execute_manifest", payload)
    wait_for_checkpoint(child, "uploaded", timeout=120)
    assert kill(child) == -9
    [key] = shared_world.data_keys()
    assert key == "ingest_satellite_raster/scene/v1/scene.tif"
    [asset] = shared_world.ledger.assets_of_run("r1")
    assert (asset.status, asset.s3_key) == ("pending", key)
    run = shared_world.ledger.get_run("r1")
    assert run is not None and run.status == "running"
