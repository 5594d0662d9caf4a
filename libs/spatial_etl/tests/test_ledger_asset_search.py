"""``Ledger.search_assets``: the web catalogue's asset search (text, criteria, newest first, pages)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import mongomock
import pytest
from ledger_documents import T0, catalogued, raster_asset, vector_asset
from pymongo.errors import ExecutionTimeout
from spatial_etl.backends.asset_filters import TEXT_MAX_LENGTH, text_filter
from spatial_etl.backends.ledger import Ledger, ensure_indexes
from spatial_etl.errors import AssetQueryError
from spatial_etl.models.asset_search import SearchBox
from spatial_etl.models.ledger import AssetDocument


@pytest.fixture
def ledger() -> Ledger:
    db = mongomock.MongoClient(tz_aware=True)["ledger"]
    ensure_indexes(db)
    return Ledger(db)


def _commit(ledger: Ledger, doc: AssetDocument, hours: int) -> AssetDocument:
    ledger.insert_pending_asset(doc)
    return ledger.commit_asset(doc.asset_id, T0 + timedelta(hours=hours))


def _asset(dataset: str, version: int = 1, **changes: Any) -> AssetDocument:
    description = changes.pop("description", f"{dataset} of the tests")
    project = changes.pop("project", "cadastre")
    title = f"{dataset} v{version}"
    doc = vector_asset(
        dataset=dataset,
        version=version,
        s3_key=f"ingest_vector_boundary/{dataset}/v{version}/{dataset}.parquet",
        **changes,
    )
    doc = doc.model_copy(update={"iso19115": doc.iso19115.model_copy(update={"title": title})})
    return catalogued(doc, project=project, description=description)


@pytest.fixture
def lake(ledger: Ledger) -> dict[str, AssetDocument]:
    """Five datasets committed an hour apart; ``roads`` has two versions."""
    docs = {
        "districts": _asset("districts", description="Administrative districts (2024)"),
        "rivers": _asset("rivers", description="Hydrography: RIVERS and canals", project="water"),
        "roads_v1": _asset("roads", description="Road network [draft] a.*b"),
        "parcels": _asset("parcels", description=None, bbox_wgs84=(170.0, -20.0, -170.0, -10.0)),
        "roads_v2": _asset("roads", version=2, description="Road network, final"),
    }
    return {name: _commit(ledger, doc, hours) for hours, (name, doc) in enumerate(docs.items())}


def _names(found: list[AssetDocument]) -> list[str]:
    return [f"{doc.dataset}.v{doc.version}" for doc in found]


def test_newest_commit_first_latest_versions_by_default(
    ledger: Ledger, lake: dict[str, AssetDocument]
) -> None:
    assert _names(ledger.search_assets()) == ["roads.v2", "parcels.v1", "rivers.v1", "districts.v1"]
    every = ledger.search_assets(latest_only=False)
    assert _names(every) == ["roads.v2", "parcels.v1", "roads.v1", "rivers.v1", "districts.v1"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rivers", ["rivers.v1"]),  # the dataset
        ("RIVERS AND", ["rivers.v1"]),  # the description, ignoring case
        ("districts v1", ["districts.v1"]),  # the title
        ("administrative", ["districts.v1"]),
        ("[draft]", ["roads.v1"]),  # the latest of the versions the text keeps
        ("a.*b", ["roads.v1"]),  # literally
        ("a.+b", []),  # not a pattern
        ("(2024)", ["districts.v1"]),  # not a broken pattern either
        (")(", []),
        ("road network", ["roads.v2"]),
        ("  canals ", ["rivers.v1"]),  # surrounding spaces do not count
    ],
)
def test_text_matches_dataset_title_or_description_literally(
    ledger: Ledger, lake: dict[str, AssetDocument], text: str, expected: list[str]
) -> None:
    assert _names(ledger.search_assets(text=text)) == expected


def test_text_over_every_version(ledger: Ledger, lake: dict[str, AssetDocument]) -> None:
    assert _names(ledger.search_assets(text="[draft] a.*b", latest_only=False)) == ["roads.v1"]
    # the latest version among those the text keeps: roads v1 is the newest draft
    assert _names(ledger.search_assets(text="draft")) == ["roads.v1"]


def test_text_combines_with_every_other_criterion(
    ledger: Ledger, lake: dict[str, AssetDocument]
) -> None:
    assert _names(ledger.search_assets(text="of the tests", project="water")) == []
    assert _names(ledger.search_assets(text="hydrography", project="water")) == ["rivers.v1"]
    crossing = SearchBox.parse("175,-15,-175,-12")
    assert _names(ledger.search_assets(text="parcels", bbox=crossing)) == ["parcels.v1"]
    assert _names(ledger.search_assets(text="rivers", bbox=crossing)) == []
    window = {"since": T0 + timedelta(hours=1), "until": T0 + timedelta(hours=3)}
    assert _names(ledger.search_assets(text="r", latest_only=False, **window)) == [
        "roads.v1",
        "rivers.v1",
    ]
    assert _names(ledger.search_assets(intent="ingest_satellite_raster")) == []


def test_only_committed_assets_are_found(ledger: Ledger, lake: dict[str, AssetDocument]) -> None:
    pending = raster_asset(created_at=T0)
    ledger.insert_pending_asset(pending)
    assert pending.asset_id not in {doc.asset_id for doc in ledger.search_assets(limit=100)}
    assert _names(ledger.search_assets(intent="ingest_satellite_raster")) == []


def test_pages_follow_each_other_without_overlap(
    ledger: Ledger, lake: dict[str, AssetDocument]
) -> None:
    pages = [_names(ledger.search_assets(latest_only=False, offset=o, limit=2)) for o in (0, 2, 4)]
    assert pages == [["roads.v2", "parcels.v1"], ["roads.v1", "rivers.v1"], ["districts.v1"]]
    assert ledger.search_assets(offset=10) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "at least one character"),
        ("   ", "at least one character"),
        ("x" * (TEXT_MAX_LENGTH + 1), f"at most {TEXT_MAX_LENGTH} characters"),
    ],
)
def test_a_bad_text_is_refused(ledger: Ledger, text: str, message: str) -> None:
    with pytest.raises(AssetQueryError, match=message):
        ledger.search_assets(text=text)


def test_bad_pages_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="limit"):
        ledger.search_assets(limit=0)
    with pytest.raises(ValueError, match="offset"):
        ledger.search_assets(offset=-1)


def test_the_text_filter_escapes_the_pattern() -> None:
    query = text_filter(" a.b(c ")
    assert query == {
        "$or": [
            {field: {"$regex": r"a\.b\(c", "$options": "i"}}
            for field in ("dataset", "iso19115.title", "provenance.description")
        ]
    }


def test_a_search_over_its_time_budget_asks_for_a_narrower_one(
    ledger: Ledger, lake: dict[str, AssetDocument], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []

    def slow(pipeline: list[Any], **options: Any) -> Any:
        seen.append(options)
        raise ExecutionTimeout("operation exceeded time limit", 50)

    monkeypatch.setattr(ledger._assets, "aggregate", slow)
    with pytest.raises(AssetQueryError, match=r"more than 2\.5 s: narrow it"):
        ledger.search_assets(text="roads", max_time_s=2.5)
    assert seen == [{"allowDiskUse": True, "maxTimeMS": 2500}]
