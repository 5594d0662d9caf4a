"""Batches in the catalogue: the JSON API, its filters and bounds, the pages, hostile text.

One world per module: a raster batch run for real (S3 on moto's server, GDAL), manifests
rejected by the real intake, and a few batches recorded through the ledger's own API (a
failed run, arrival times chosen for the date filters).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from spatial_etl.models.ledger import BatchDocument, PluginRecord, RunDocument, RunError
from spatial_etl.run.intake import Rejection, RunTicket, examine, pending_manifests, run_batch
from spatial_etl_web import batches
from support import World, make_world, manifest, raster_file

pytestmark = [pytest.mark.s3, pytest.mark.postgis, pytest.mark.gdal]

HOSTILE = "<script>alert(1)</script>"
T0 = datetime(2024, 6, 1, 8, 0, tzinfo=UTC)
GDAL_CREATE = (
    *("gdal_create", "-of", "GTiff", "-outsize", "32", "32", "-burn", "7"),
    *("-a_ullr", "10", "51", "11", "50", "-a_srs", "EPSG:4326"),
)


def _commit(world: World, document: dict[str, Any]) -> None:
    key = f"manifests/{document['batch_id']}.json"
    body = json.dumps(document).encode()
    world.store.put_bytes(world.store.settings.landing_bucket, key, body, metadata={})


def _record(world: World, batch_id: str, when: datetime, **changes: Any) -> BatchDocument:
    """A batch recorded as the sensor records one, received at ``when``."""
    document = manifest(batch_id, "ingest_satellite_raster", [], project="OLD")
    document["uploader"] = "carol"
    values: dict[str, Any] = {
        "batch_id": batch_id,
        "manifest_key": f"manifests/{batch_id}.json",
        "manifest_etag": f'"{batch_id}"',
        "manifest_sha256": "c" * 64,
        "uploader": "carol",
        "intent": "ingest_satellite_raster",
        "status": "received",
        "problems": [],
        "received_at": when,
        "updated_at": when,
        "run_ids": [],
        "manifest": document,
    }
    doc = BatchDocument(**{**values, **changes})
    assert world.ledger.record_batch(doc)
    return doc


def _start(world: World, batch_id: str, when: datetime) -> str:
    """A run of ``batch_id`` holding its lease, started at ``when``; returns its id."""
    run_id = f"run-{batch_id}"
    world.ledger.acquire_batch(batch_id, run_id)
    world.ledger.start_run(
        RunDocument(
            run_id=run_id,
            batch_id=batch_id,
            intent="ingest_satellite_raster",
            plugin=PluginRecord(name="satellite_raster", distribution=None, version="0.1.0"),
            status="running",
            started_at=when,
            finished_at=None,
            error=None,
            inputs=[],
            outputs=[],
            timings={},
            versions={"gdal": "3.6.2"},
        )
    )
    return run_id


def _fail(world: World, batch_id: str, when: datetime) -> None:
    """A run of ``batch_id`` that failed in step ``cog`` on one file."""
    run_id = _start(world, batch_id, when)
    error = RunError(
        message="gdal_translate exited with status 1",
        type="StepError",
        step="cog",
        file=f"s3://landing-zone/{batch_id}/a.tif",
    )
    world.ledger.finish_run(
        run_id,
        "failed",
        error=error,
        timings={"stage": 0.25, "export": 1.5},
        finished_at=when + timedelta(seconds=2),
    )
    world.ledger.release_batch(batch_id, run_id, "failed")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The module's platform, populated once (overrides conftest's per-test ``world``)."""
    tmp = tmp_path_factory.mktemp("batches")
    with make_world(os.environ["SPATIAL_ETL_POSTGIS_DSN"], tmp) as made:
        raster = tmp / "scene.tif"
        subprocess.run(
            [*GDAL_CREATE, str(raster)],
            check=True,
            capture_output=True,
        )
        path = made.upload("good_scene", raster)
        _commit(
            made,
            manifest("good_scene", "ingest_satellite_raster", [raster_file(path, "EPSG:4326")]),
        )
        [ref] = pending_manifests(made.store)
        ticket = examine(ref, made.platform, grace_period_s=0)
        assert isinstance(ticket, RunTicket), ticket
        assert run_batch(ticket.ref, "run-good-scene", made.platform).status == "succeeded"
        bad = manifest(
            "bad_format",
            "ingest_satellite_raster",
            [
                {
                    **raster_file("s3://landing-zone/bad_format/a.tif", "EPSG:4326"),
                    "format": "GeoTiff",
                }
            ],
        )
        hostile = manifest(
            "hostile",
            "ingest_satellite_raster",
            [raster_file(f"s3://landing-zone/hostile/{HOSTILE}.tif", "EPSG:4326")],
        )
        hostile["uploader"] = HOSTILE
        hostile["metadata"]["description"] = f"described as {HOSTILE}"
        for document in (bad, hostile):
            _commit(made, document)
        for ref in pending_manifests(made.store):
            assert isinstance(examine(ref, made.platform, grace_period_s=0), Rejection)
        _record(made, "old_1", T0, uploader="dave")
        _record(made, "old_2", T0 + timedelta(days=1))
        _record(made, "old_3", T0 + timedelta(days=2))
        _fail(made, "old_3", T0 + timedelta(days=2, hours=1))
        _record(made, "busy", T0 + timedelta(days=2, hours=2), uploader="erin")
        _start(made, "busy", T0 + timedelta(days=2, hours=3))
        yield made


def _ids(answer: Any) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [item["batch_id"] for item in answer.json()["batches"]]


# --- the JSON API ---------------------------------------------------------------------------


def test_batches_are_listed_newest_first(client: TestClient) -> None:
    listed = _ids(client.get("/api/batches"))
    assert listed[-3:] == ["old_3", "old_2", "old_1"]
    assert set(listed[:3]) == {"good_scene", "bad_format", "hostile"}
    first = client.get("/api/batches").json()["batches"][0]
    assert first["links"] == {
        "self": f"/api/batches/{first['batch_id']}",
        "page": f"/batches/{first['batch_id']}",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=rejected", {"bad_format", "hostile"}),
        ("status=succeeded", {"good_scene"}),
        ("status=failed", {"old_3"}),
        ("status=running", {"busy"}),
        ("status=waiting", {"old_1", "old_2"}),
        ("status=received", {"old_1", "old_2"}),
        ("uploader=dave", {"old_1"}),
        (f"uploader={HOSTILE}", {"hostile"}),
        ("project=OLD", {"old_1", "old_2", "old_3", "busy"}),
        ("project=OLD&uploader=carol&status=waiting", {"old_2"}),
        ("since=2024-06-02&until=2024-06-03", {"old_2"}),
        ("until=2024-06-02T00:00:00Z", {"old_1"}),
        ("since=2024-06-02T08:00:00%2B00:00&until=2025-01-01", {"old_2", "old_3", "busy"}),
        ("uploader=nobody", set()),
    ],
)
def test_batch_filters(client: TestClient, query: str, expected: set[str]) -> None:
    listed = _ids(client.get(f"/api/batches?{query}"))
    assert set(listed) == expected
    assert len(listed) == len(expected)


def test_batches_page_by_cursor(client: TestClient) -> None:
    everything = _ids(client.get("/api/batches"))
    seen: list[str] = []
    url: str | None = "/api/batches?limit=2"
    while url:
        answer = client.get(url)
        seen += _ids(answer)
        assert answer.json()["limit"] == 2
        url = answer.json()["links"]["next"]
    assert seen == everything
    filtered = client.get("/api/batches?project=OLD&limit=2").json()
    assert [item["batch_id"] for item in filtered["batches"]] == ["busy", "old_3"]
    rest = client.get(filtered["links"]["next"]).json()
    assert [item["batch_id"] for item in rest["batches"]] == ["old_2", "old_1"]
    assert rest["next"] is None  # a full last page links to no empty one
    rest = client.get("/api/batches?project=OLD&limit=3&cursor=" + filtered["next"]).json()
    assert ([item["batch_id"] for item in rest["batches"]], rest["next"]) == (
        ["old_2", "old_1"],
        None,
    )


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=101", "limit: must be between 1 and 100, not 101"),
        ("limit=0", "limit: must be between 1 and 100"),
        ("limit=ten", "limit: 'ten' is not a whole number"),
        ("status=done", "status: one of waiting, running, succeeded, failed, rejected"),
        ("since=yesterday", "since: 'yesterday' is not an ISO 8601 date"),
        ("since=2024-06-02&until=2024-06-01", "until: must be later than since"),
        ("cursor=not-a-cursor", "cursor: is not a position this catalogue gave"),
        ("cursor=WzEsMl0", "cursor: is not a position this catalogue gave"),  # [1,2]
        ("uploader=" + "x" * 201, "uploader: at most 200 characters"),
    ],
)
def test_bad_listing_queries_are_refused_naming_the_parameter(
    client: TestClient, query: str, parameter: str
) -> None:
    answer = client.get(f"/api/batches?{query}")
    assert answer.status_code == 400
    assert answer.json()["code"] == "BadQuery"
    assert answer.json()["description"].startswith(parameter)
    page = client.get(f"/batches?{query}")
    assert page.status_code == 400
    assert parameter.split(":", maxsplit=1)[0] in page.text


def test_a_succeeded_batch_with_its_run_and_asset(client: TestClient, world: World) -> None:
    detail = client.get("/api/batches/good_scene").json()
    assert (detail["status"], detail["intent"], detail["uploader"]) == (
        "succeeded",
        "ingest_satellite_raster",
        "tests",
    )
    assert detail["project"] == "TESTS"
    assert detail["problems"] == [] and detail["failure"] is None
    [run] = detail["runs"]
    recorded = world.ledger.runs_of_batch("good_scene")[0]
    assert run["run_id"] == recorded.run_id
    assert run["status"] == "succeeded"
    assert run["duration_s"] == (recorded.finished_at - recorded.started_at).total_seconds()  # type: ignore[operator]
    assert {item["stage"] for item in run["timings"]} == set(recorded.timings)
    # each step of the plan, then the export, with its duration, as the ledger records them
    assert [(item["step"], item["status"]) for item in run["steps"]] == [
        (step.step, "succeeded") for step in recorded.steps
    ]
    assert recorded.steps[-1].kind == "export"  # the CRS step is skipped: the input has one
    assert [(item["file"], item["seconds"] >= 0) for item in run["steps"]] == [
        (step.file, True) for step in recorded.steps
    ]
    assert run["inputs"][0]["sha256"] == recorded.inputs[0].sha256
    [asset] = detail["assets"]
    [committed] = world.ledger.assets_of_batch("good_scene")
    assert asset["status"] == "committed"
    assert asset["links"]["page"] == f"/assets/{committed.asset_id}"
    assert detail["files"][0]["format"] == "GTiff"
    assert detail["assets_truncated"] is False


def test_a_batch_lists_a_bounded_number_of_assets(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "MAX_ASSETS_SHOWN", 0)
    detail = client.get("/api/batches/good_scene").json()
    assert (detail["assets"], detail["assets_truncated"]) == ([], True)


def test_a_rejected_batch_lists_its_problems_with_locations(client: TestClient) -> None:
    detail = client.get("/api/batches/bad_format").json()
    assert detail["status"] == "rejected"
    assert detail["runs"] == [] and detail["assets"] == []
    located = {problem["loc"]: problem["message"] for problem in detail["problems"]}
    assert "GeoTiff" in located["files[0].format"]
    assert "is not a GDAL driver short name" in located["files[0].format"]


def test_a_failed_batch_names_step_file_and_error(client: TestClient) -> None:
    detail = client.get("/api/batches/old_3").json()
    assert detail["failure"] == {
        "message": "gdal_translate exited with status 1",
        "type": "StepError",
        "step": "cog",
        "file": "s3://landing-zone/old_3/a.tif",
    }
    [run] = detail["runs"]
    assert run["duration_s"] == 2.0
    assert run["timings"] == [
        {"stage": "stage", "seconds": 0.25},
        {"stage": "export", "seconds": 1.5},
    ]
    page = client.get("/batches/old_3")
    assert page.status_code == 200
    for text in ("cog", "s3://landing-zone/old_3/a.tif", "gdal_translate exited with status 1"):
        assert text in page.text


def test_a_running_batch_and_its_unfinished_run(client: TestClient) -> None:
    detail = client.get("/api/batches/busy").json()
    assert (detail["status"], detail["failure"]) == ("running", None)
    [run] = detail["runs"]
    assert (run["status"], run["finished_at"], run["duration_s"]) == ("running", None, None)
    assert "still running" in client.get("/batches/busy").text


def test_unknown_batches_are_404(client: TestClient) -> None:
    answer = client.get("/api/batches/nope")
    assert answer.status_code == 404
    assert answer.json() == {"code": "NotFound", "description": "no batch 'nope'"}
    page = client.get("/batches/%3Cb%3Enope")
    assert page.status_code == 404
    assert "No batch &#39;&lt;b&gt;nope&#39; is recorded." in page.text
    assert "<b>nope" not in page.text
    assert client.get("/api/batches/" + "x" * 2000).status_code == 404


def test_hostile_text_is_escaped_in_pages(client: TestClient) -> None:
    listing = client.get("/batches?status=rejected")
    detail = client.get("/batches/hostile")
    for page in (listing, detail):
        assert page.status_code == 200
        assert HOSTILE not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_listing_page_shows_each_batch(client: TestClient) -> None:
    page = client.get("/batches?status=succeeded")
    assert page.status_code == 200
    row = page.text.split('data-batch-id="good_scene"', 1)[1].split("</tr>", 1)[0]
    for text in (
        '<a href="/batches/good_scene">good_scene</a>',
        '<span class="status status-succeeded">succeeded</span>',
        '<a href="/intents/ingest_satellite_raster">ingest_satellite_raster</a>',
        "<td>tests</td>",
        "<td>TESTS</td>",
        "<td>1</td>",
    ):
        assert text in row
    assert 'id="next-page"' not in page.text
    paged = client.get("/batches?limit=2")
    assert 'id="next-page"' in paged.text
    assert "/batches?limit=2&amp;cursor=" in paged.text


def test_pages_reference_no_other_origin(client: TestClient) -> None:
    for url in ("/batches", "/batches/good_scene", "/batches/old_3", "/batches/bad_format"):
        page = client.get(url)
        assert page.status_code == 200
        foreign = page.text.replace("http://testserver/", "")  # the app's own origin
        assert "http://" not in foreign and "https://" not in foreign, url


# --- in a browser ---------------------------------------------------------------------------


@pytest.mark.browser
def test_filter_by_status_and_read_a_rejection(page: Any, served: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/batches")
    assert page.locator("#batch-table tbody tr").count() == 7
    page.select_option("#filter-status", "rejected")
    page.click("#batch-filters button[type=submit]")
    page.wait_for_url("**/batches?status=rejected*")
    rows = page.locator("#batch-table tbody tr")
    assert rows.count() == 2
    assert sorted(rows.nth(i).get_attribute("data-batch-id") for i in range(2)) == [
        "bad_format",
        "hostile",
    ]
    page.click("text=bad_format")
    page.wait_for_url("**/batches/bad_format")
    assert page.inner_text("#batch-status") == "rejected"
    problem = page.locator("#problems li.problem-item").filter(has_text="files[0].format")
    assert problem.count() == 1
    assert "is not a GDAL driver short name" in problem.inner_text()
    assert dialogs == []


@pytest.mark.browser
def test_hostile_text_renders_as_text(page: Any, served: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{served}/batches?uploader={quote(HOSTILE)}")
    assert page.locator("#batch-table tbody tr td:nth-child(4)").inner_text() == HOSTILE
    assert page.input_value("#filter-uploader") == HOSTILE
    page.click("text=hostile")
    page.wait_for_url("**/batches/hostile")
    assert page.inner_text("#batch-uploader") == HOSTILE
    assert page.inner_text("#batch-description") == f"described as {HOSTILE}"
    assert HOSTILE in page.inner_text(".file-path")
    assert dialogs == []
