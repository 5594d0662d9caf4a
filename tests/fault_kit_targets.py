"""Targets the fault kit's self-tests run in spawned children (``fault_kit_targets:child_*``).

Kept apart from the test module, and importing the ledger client only where needed, so a
child imports little: its startup is most of its cost.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from processes import checkpoint


def _database(payload: Mapping[str, Any]) -> Any:
    """The shared ledger's database; imported here so ledger-free children start fast."""
    from ledger_server import LedgerAddress, connect_database

    return connect_database(LedgerAddress.from_json(payload["address"]))


def child_write_and_read(payload: Mapping[str, Any]) -> list[str]:
    db = _database(payload)
    db["scratch"].insert_one({"_id": "from-child", "at": datetime.now(UTC)})
    return sorted(doc["_id"] for doc in db["scratch"].find())


def child_insert_asset(payload: Mapping[str, Any]) -> dict[str, Any]:
    from pymongo.errors import DuplicateKeyError

    db = _database(payload)
    try:
        db["assets"].insert_one(payload["document"])
    except DuplicateKeyError as error:
        return {"error": type(error).__name__, "code": error.code, "message": str(error)}
    return {"error": None}


def child_insert_forever(payload: Mapping[str, Any]) -> None:
    db = _database(payload)
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
