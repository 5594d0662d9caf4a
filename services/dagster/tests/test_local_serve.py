"""``spatial-etl local run --serve``: the catalogue of the run on loopback until interrupted.

The runner is started as a user starts it (a subprocess), on a free port; the test waits for
the URL it prints, reads the JSON API and the STAC API, then interrupts it and checks it exits
with the run's status and leaves no S3 server behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from support import manifest, raster_file


def _gone(pid: int, timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback http
        return json.loads(answer.read())


@pytest.mark.gdal
@pytest.mark.postgis  # a raster landing starts no cluster, but its programs must be installed
@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM])
def test_serve_keeps_the_catalogue_of_the_run_until_interrupted(
    tmp_path: Path, make_raster: Callable[..., Path], how: signal.Signals
) -> None:
    landing, out = tmp_path / "landing", tmp_path / "out"
    (landing / "scene_s").mkdir(parents=True)
    shutil.copyfile(make_raster("scene.tif", crs="EPSG:4326"), landing / "scene_s" / "scene.tif")
    (landing / "manifests").mkdir()
    body = manifest(
        "scene_s",
        "ingest_satellite_raster",
        [raster_file("s3://landing-zone/scene_s/scene.tif", "EPSG:4326")],
    )
    (landing / "manifests" / "scene_s.json").write_text(json.dumps(body))
    env = {k: v for k, v in os.environ.items() if k != "SPATIAL_ETL_POSTGIS_DSN"}
    runner = subprocess.Popen(
        [sys.executable, "-m", "spatial_etl_dagster.local", "run", str(landing), "--out",
         str(out), "--serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**env, "COLUMNS": "250", "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    assert runner.stderr is not None and runner.stdout is not None
    lines: list[str] = []
    server_pid, url = None, None
    try:
        for line in runner.stderr:
            lines.append(line)
            found = re.search(r"moto S3 server on 127\.0\.0\.1:\d+ \(pid (\d+)\)", line)
            if found:
                server_pid = int(found.group(1))
            served = re.search(r"catalogue: (http://127\.0\.0\.1:\d+)/", line)
            if served:
                url = served.group(1)
                break
        assert url is not None and server_pid is not None, "".join(lines)
        assert (out / "summary.json").is_file()  # exported before serving

        stac = _get(f"{url}/stac")
        assert stac["type"] == "Catalog"
        assert [link["href"] for link in stac["links"] if link["rel"] == "child"] == [
            f"{url}/stac/collections/ingest_satellite_raster.scene"
        ]
        items = _get(f"{url}/stac/search")
        assert [item["id"] for item in items["features"]] == ["ingest_satellite_raster.scene.v1"]
        assert _get(f"{url}/api/health") == {"status": "ok"}
        found = _get(f"{url}/api/assets")
        assert [asset["dataset"] for asset in found["items"]] == ["scene"]

        runner.send_signal(how)
        stdout, stderr = runner.communicate(timeout=60)
        assert runner.returncode == 0, "".join(lines) + stderr
        assert "Traceback" not in stderr
        assert "1 succeeded; exit status 0" in stdout
        assert _gone(server_pid), f"the S3 server {server_pid} outlived its runner"
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(timeout=30)
        if server_pid is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(server_pid).kill()
