"""The local runner's ledger: a mongomock database living in the runner's process.

Kept apart from :mod:`.embedded` because the resource that hands it to Dagster is a Dagster
class: importing it loads Dagster, which the runner does only once the other services are
starting (see :mod:`.runner`).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import mongomock
from pydantic import Field
from pymongo.database import Database
from spatial_etl.backends.ledger import Ledger, ensure_indexes

from spatial_etl_dagster.local.embedded import DATABASE
from spatial_etl_dagster.resources import LedgerResource

_LEDGERS: dict[str, Ledger] = {}
"""The in-process ledgers alive now, by handle (see :func:`in_process_ledger`)."""


class InProcessLedgerResource(LedgerResource):
    """The ledger of the local runner: a mongomock database living in this process.

    Dagster rebuilds a resource from its configuration before it runs an op, so the resource
    cannot hold the database itself; it names it by ``handle`` instead.
    """

    uri: str = Field(
        default="mongomock://in-process", description="Not used: the ledger is in memory."
    )
    handle: str = Field(description="Which in-process ledger (see in_process_ledger()).")

    def ledger(self) -> Ledger:
        """The in-process ledger this resource names."""
        try:
            return _LEDGERS[self.handle]
        except KeyError:
            raise RuntimeError(f"in-process ledger {self.handle!r} is closed") from None


@contextlib.contextmanager
def in_process_ledger() -> Iterator[InProcessLedgerResource]:
    """A fresh in-memory ledger with its indexes, as a Dagster resource, for the block."""
    db: Database[dict[str, Any]] = mongomock.MongoClient(tz_aware=True)[DATABASE]
    ensure_indexes(db)
    handle = uuid.uuid4().hex
    _LEDGERS[handle] = Ledger(db)
    try:
        yield InProcessLedgerResource(handle=handle)
    finally:
        del _LEDGERS[handle]
