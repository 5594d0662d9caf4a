"""``Ledger.search_committed``: the STAC API's item search over committed versions.

Keyset paging in (intent, dataset, version) order, closed ``created_at`` bounds, dataset and
version restrictions, the extent filter; pending versions are never found.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import mongomock
import pytest
from ledger_documents import T0, vector_asset
from spatial_etl.backends.ledger import Ledger, ensure_indexes
from spatial_etl.models.asset_search import SearchBox
from spatial_etl.models.ledger import AssetDocument

DISTRICTS = ("ingest_vector_boundary", "districts")
PARKS = ("ingest_vector_boundary", "parks")


def _publish(ledger: Ledger, doc: AssetDocument) -> None:
    ledger.insert_pending_asset(doc)
    ledger.commit_asset(doc.asset_id, doc.created_at + timedelta(minutes=1))


@pytest.fixture
def ledger() -> Ledger:
    db: Any = mongomock.MongoClient(tz_aware=True)["ledger"]
    ensure_indexes(db)
    made = Ledger(db)
    for version in (1, 2, 3):
        _publish(made, vector_asset(version=version, created_at=T0 + timedelta(hours=version)))
    _publish(
        made,
        vector_asset(
            dataset="parks",
            s3_key="ingest_vector_boundary/parks/v1/parks.parquet",
            bbox_wgs84=(-70.0, -40.0, -60.0, -30.0),
            created_at=T0 + timedelta(hours=10),
        ),
    )
    made.insert_pending_asset(vector_asset(version=4, created_at=T0 + timedelta(hours=4)))
    return made


def _keys(found: list[AssetDocument]) -> list[tuple[str, int]]:
    return [(doc.dataset, doc.version) for doc in found]


def test_everything_committed_in_key_order(ledger: Ledger) -> None:
    found = ledger.search_committed()
    assert _keys(found) == [("districts", 1), ("districts", 2), ("districts", 3), ("parks", 1)]


def test_keyset_pages_resume_after_the_last_key(ledger: Ledger) -> None:
    first = ledger.search_committed(limit=2)
    assert _keys(first) == [("districts", 1), ("districts", 2)]
    last = first[-1]
    second = ledger.search_committed(limit=2, after=(last.intent, last.dataset, last.version))
    assert _keys(second) == [("districts", 3), ("parks", 1)]
    assert ledger.search_committed(after=(*PARKS, 1)) == []


def test_created_bounds_are_closed(ledger: Ledger) -> None:
    at_two = T0 + timedelta(hours=2)
    assert _keys(ledger.search_committed(created_from=at_two, created_to=at_two)) == [
        ("districts", 2)
    ]
    assert _keys(ledger.search_committed(created_to=at_two)) == [
        ("districts", 1),
        ("districts", 2),
    ]
    assert _keys(ledger.search_committed(created_from=T0 + timedelta(hours=3))) == [
        ("districts", 3),
        ("parks", 1),
    ]


def test_datasets_versions_and_box_restrict(ledger: Ledger) -> None:
    assert _keys(ledger.search_committed(datasets=[PARKS])) == [("parks", 1)]
    assert _keys(ledger.search_committed(versions=[(*DISTRICTS, 2), (*PARKS, 1)])) == [
        ("districts", 2),
        ("parks", 1),
    ]
    assert ledger.search_committed(versions=[(*DISTRICTS, 4)]) == []  # pending: not found
    assert ledger.search_committed(datasets=[]) == []
    south = SearchBox.parse("-65,-35,-64,-34")
    assert _keys(ledger.search_committed(bbox=south)) == [("parks", 1)]


def test_limit_must_be_positive(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        ledger.search_committed(limit=0)
