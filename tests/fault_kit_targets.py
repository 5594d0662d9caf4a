"""Targets the fault kit's self-tests run in spawned children (``fault_kit_targets:child_*``).

Kept apart from the test module so a child imports little (startup is most of a child's cost).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ledger_server import LedgerAddress, connect_database
from processes import checkpoint
from pymongo.errors import DuplicateKeyError



def child_write_and_read(payload: Mapping[str, Any]) -> list[str]:
    db = connect_database(LedgerAddress.from_json(payload["address"]))
    db["scratch"].insert_one({"_id": "from-child", "at": datetime.now(UTC)})
    return sorted(doc["_id"] for doc in db["scratch"].find())


def child_insert_asset(payload: Mapping[str, Any]) -> dict[str, Any]:
    db = connect_database(LedgerAddress.from_json(payload["address"]))
    try:
        db["assets"].insert_one(payload["document"])
    except DuplicateKeyError as error:
        return {"error": type(error).__name__, "code": error.code, "message": str(error)}
    return {"error": None}


def child_insert_forever(payload: Mapping[str, Any]) -> None:
    db = connect_database(LedgerAddress.from_json(payload["address"]))
    collection = db["hammer"]
    for index in range(10**9):
        collection.insert_one({"i": index, "pad": "x" * 2000})
        collection.count_documents({})


def child_sleep_under(payload: Mapping[str, Any]) -> None:
    subprocess.run(["sleep", str(payload["seconds"])], check=False)


def child_fail(payload: Mapping[str, Any]) -> None:
    raise ValueError(f"told to fail: {payload['why']}")


def child_echo(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {"payload": dict(payload), "env": os.environ.get("FAULT_KIT_TEST")}


def child_hold_at(payload: Mapping[str, Any]) -> None:
    checkpoint(payload["name"], hold_s=60)
