"""Intents in the catalogue: listing, detail, parameters, a valid example manifest, pages.

The intents are the installed plugins' (the catalogue loads them as a deployment does); no
backend is read, so the catalogue here has neither ledger nor store.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict, Field
from spatial_etl import Accepts, ExportFormat, ExportStep, FileType, Intent
from spatial_etl.models.plugin import PluginInfo
from spatial_etl.plugins.loading import load_plugins
from spatial_etl.plugins.registry import IntentCatalog, IntentRegistry
from spatial_etl.run.validation import check_manifest
from spatial_etl.settings import PluginSettings, WebSettings
from spatial_etl_web.app import create_app
from spatial_etl_web.catalogue import Catalogue

INSTALLED = [
    "ingest_raster_mosaic",
    "ingest_satellite_raster",
    "ingest_vector_boundary",
    "ingest_vector_features",
]


@pytest.fixture(scope="module")
def installed() -> IntentCatalog:
    return load_plugins(PluginSettings(plugins=None, block_plugins=frozenset()))


def _catalogue(intents: IntentCatalog) -> Catalogue:
    return Catalogue(ledger=None, store=None, intents=intents, settings=WebSettings())  # type: ignore[arg-type]


@pytest.fixture
def catalogue(installed: IntentCatalog) -> Catalogue:
    """Overrides conftest's: intents need no backend."""
    return _catalogue(installed)


def test_intents_are_listed_with_their_plugin(client: TestClient) -> None:
    listing = client.get("/api/intents").json()
    assert [item["name"] for item in listing["intents"]] == INSTALLED
    raster = listing["intents"][1]
    assert raster["plugin"]["distribution"] == "spatial-etl-satellite-raster"
    assert raster["plugin"]["version"]
    assert raster["file_type"] == "raster"
    assert raster["links"] == {
        "self": "/api/intents/ingest_satellite_raster",
        "page": "/intents/ingest_satellite_raster",
    }
    assert listing["conflicts"] == [] and listing["next"] is None


def test_intents_page_by_offset_within_bounds(client: TestClient) -> None:
    first = client.get("/api/intents?limit=3").json()
    assert [item["name"] for item in first["intents"]] == INSTALLED[:3]
    rest = client.get(first["next"]).json()
    assert [item["name"] for item in rest["intents"]] == INSTALLED[3:]
    for query, message in [
        ("limit=101", "limit: must be between 1 and 100"),
        ("offset=-1", "offset: a whole number"),
    ]:
        answer = client.get(f"/api/intents?{query}")
        assert answer.status_code == 400
        assert answer.json()["description"].startswith(message)


def test_an_intent_in_detail(client: TestClient) -> None:
    detail = client.get("/api/intents/ingest_vector_features").json()
    assert detail["accepts"]["file_type"] == "vector"
    assert "GPKG" in detail["accepts"]["formats"]
    assert detail["accepts"]["layers"] == "each"
    assert any("Every layer" in rule for rule in detail["accepts"]["rules"])
    parameters = {item["name"]: item for item in detail["parameters"]}
    assert parameters["target_crs"]["default"] == "EPSG:4326"
    assert parameters["target_crs"]["required"] is False
    mixed = next(item for item in parameters.values() if set(item["enum"]) == {"split", "refuse"})
    assert mixed["description"]
    assert detail["steps"][-1]["kind"] == "export"
    mosaic = client.get("/api/intents/ingest_raster_mosaic").json()
    assert mosaic["accepts"]["inputs"] == "batch"
    assert len(mosaic["example_manifest"]["files"]) == 2


@pytest.mark.parametrize("name", INSTALLED)
def test_every_example_manifest_validates(
    client: TestClient, installed: IntentCatalog, name: str
) -> None:
    detail = client.get(f"/api/intents/{name}").json()
    example = detail["example_manifest"]
    assert example["intent"] == name
    assert detail["example_problems"] == []
    report = check_manifest(
        json.dumps(example), source=f"{example['batch_id']}.json", catalog=installed
    )
    assert report.valid, report.problems


class _Required(BaseModel):
    model_config = ConfigDict(extra="forbid")

    band: int = Field(description="Band to keep; no default, no choices.")


def test_an_example_that_cannot_be_valid_says_so() -> None:
    registry = IntentRegistry(PluginInfo(name="demo", module="demo"))
    registry.register(
        Intent(
            name="needs_band",
            summary="A raster intent with a required parameter",
            accepts=Accepts(file_type=FileType.RASTER, drivers=frozenset({"GTiff"})),
            parameters=_Required,
            steps=(ExportStep(name="export", description="to COG", format=ExportFormat.COG),),
        )
    )
    client = TestClient(create_app(_catalogue(IntentCatalog([registry]))))
    detail = client.get("/api/intents/needs_band").json()
    assert [item["loc"] for item in detail["example_problems"]] == ["metadata.parameters.band"]
    page = client.get("/intents/needs_band")
    assert "The core refuses this example as it stands" in page.text
    assert "metadata.parameters.band" in page.text


def test_unknown_intents_are_404(client: TestClient) -> None:
    answer = client.get("/api/intents/ingest_nothing")
    assert answer.status_code == 404
    assert answer.json() == {
        "code": "NotFound",
        "description": "no intent 'ingest_nothing' is installed",
    }
    page = client.get("/intents/%3Cscript%3E")
    assert page.status_code == 404
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


def test_intent_pages_show_everything_and_no_other_origin(client: TestClient) -> None:
    listing = client.get("/intents")
    assert listing.status_code == 200
    for name in INSTALLED:
        assert f'href="/intents/{name}"' in listing.text
        page = client.get(f"/intents/{name}")
        assert page.status_code == 200
        assert "This example passes the platform's manifest validation." in page.text
        foreign = page.text.replace("http://testserver/", "")
        assert "http://" not in foreign and "https://" not in foreign
    assert client.get("/static/intents.js").status_code == 200


@pytest.mark.browser
def test_an_intent_page_shows_its_example_manifest(page: Any, served: str) -> None:
    page.goto(f"{served}/intents")
    page.click("text=ingest_satellite_raster")
    page.wait_for_url("**/intents/ingest_satellite_raster")
    shown = json.loads(page.inner_text("#example-manifest"))
    assert shown["intent"] == "ingest_satellite_raster"
    assert shown["files"][0]["format"] == "GTiff"
    assert shown["metadata"]["parameters"]["resampling"] == "nearest"
    page.click("#copy-example")
    page.wait_for_function("document.getElementById('copy-state').textContent !== ''")
    selected = page.evaluate("window.getSelection().toString()")
    assert json.loads(selected) == shown
