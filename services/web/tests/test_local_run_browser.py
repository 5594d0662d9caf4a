"""A newcomer's path: ``spatial-etl local run LANDING --out OUT --serve``, then a browser.

The runner is started as a user starts it (a subprocess, on a free port) over a landing with a
raster, a vector and a manifest the intake rejects. Debian's Chromium then opens the catalogue
it serves: search by text and by a typed box, open an asset and see its quicklook and
footprint, open the rejected batch and read its problem; the user's hostile description is
shown as text. The runner is interrupted at the end and must exit with the run's status.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support import UTM_SQUARE, manifest, raster_file, vector_file

pytestmark = [pytest.mark.browser, pytest.mark.gdal, pytest.mark.postgis]

HOSTILE = "<script>alert('pwned')</script> & <b>bold</b>"


def _place(landing: Path, batch: str, source: Path) -> str:
    (landing / batch).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, landing / batch / source.name)
    return f"s3://landing-zone/{batch}/{source.name}"


def _commit(landing: Path, document: dict[str, Any]) -> None:
    (landing / "manifests").mkdir(parents=True, exist_ok=True)
    (landing / "manifests" / f"{document['batch_id']}.json").write_text(json.dumps(document))


@pytest.fixture
def local_catalogue(
    tmp_path: Path,
    postgis_dsn: str,
    make_raster: Callable[..., Path],
    make_vector: Callable[..., Path],
) -> Iterator[str]:
    """The catalogue ``local run --serve`` prints; the runner is interrupted afterwards."""
    landing, out = tmp_path / "landing", tmp_path / "out"
    scene = _place(landing, "scene_a", make_raster("scene.tif", crs="EPSG:4326"))
    document = manifest("scene_a", "ingest_satellite_raster", [raster_file(scene, "EPSG:4326")])
    document["metadata"]["description"] = HOSTILE
    _commit(landing, document)
    gpkg = make_vector("parcels.gpkg", [{"wkt": UTM_SQUARE, "name": "one"}], crs="EPSG:32633")
    parcels = _place(landing, "parcels", gpkg)
    _commit(
        landing,
        manifest("parcels", "ingest_vector_boundary", [vector_file(parcels, "GPKG")]),
    )
    _commit(
        landing, manifest("lidar", "ingest_lidar", [raster_file("s3://landing-zone/lidar/x.tif")])
    )
    env = {**os.environ, "SPATIAL_ETL_POSTGIS_DSN": postgis_dsn, "COLUMNS": "200"}
    runner = subprocess.Popen(
        [sys.executable, "-m", "spatial_etl_dagster.local", "run", str(landing), "--out",
         str(out), "--serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert runner.stderr is not None
    seen: list[str] = []
    try:
        url = None
        for line in runner.stderr:
            seen.append(line)
            found = re.search(r"catalogue: (http://127\.0\.0\.1:\d+)/", line)
            if found:
                url = found.group(1)
                break
        assert url is not None, "".join(seen)
        yield url
        runner.send_signal(signal.SIGINT)
        stdout, stderr = runner.communicate(timeout=60)
        assert runner.returncode == 1, stderr  # one rejection: the run's status
        assert "1 rejected, 2 succeeded" in stdout
        assert "Traceback" not in stderr
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(timeout=30)


def test_a_newcomer_browses_the_catalogue_of_a_local_run(page: Any, local_catalogue: str) -> None:
    url = local_catalogue
    dialogs: list[str] = []
    requested: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requested.append(request.url))
    cards = page.locator(".asset-card h2 a")

    page.goto(f"{url}/")
    page.wait_for_url(f"{url}/assets")
    assert sorted(cards.all_inner_texts()) == ["parcels", "scene"]
    page.fill("#q", "parcel")
    page.click("#search")
    page.wait_for_url(re.compile(r"q=parcel"))
    assert cards.all_inner_texts() == ["parcels"]
    page.fill("#q", "")
    page.fill("#bbox", "9,49,11,51")  # around the scene, not the parcel (15 E)
    page.click("#search")
    page.wait_for_url(re.compile(r"bbox="))
    assert cards.all_inner_texts() == ["scene"]

    cards.first.click()
    page.wait_for_url(re.compile(r"/assets/[0-9a-f]{24}$"))
    assert page.inner_text("#asset-description") == HOSTILE
    page.wait_for_function("() => document.querySelector('#quicklook').complete")
    assert page.locator("#quicklook").evaluate("img => img.naturalWidth") > 0
    assert page.locator("#footprint-map polygon.footprint").count() == 1

    page.goto(f"{url}/batches")
    page.click("text=lidar")
    page.wait_for_url(f"{url}/batches/lidar")
    assert page.inner_text("#batch-status") == "rejected"
    problems = page.locator("#problems li.problem-item")
    assert "unknown intent 'ingest_lidar'" in problems.first.inner_text()
    assert dialogs == []
    assert [seen for seen in requested if not seen.startswith(url)] == []
