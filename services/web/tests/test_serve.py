"""``spatial-etl serve``: its one-line start-up errors (the real command) and what it serves.

MongoDB cannot be installed here, so the real command is run for its error paths (no
configuration; a MongoDB that does not answer), and the serving path is run in process with
the ledger seam (``spatial_etl.cli.connect.open_ledger``) replaced by a mongomock ledger and
``uvicorn.run`` by a stand-in that keeps the application it was given.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import mongomock
import pytest
from fastapi.testclient import TestClient
from spatial_etl.backends.ledger import Ledger, ensure_indexes
from spatial_etl.cli import connect
from spatial_etl_web import cli
from typer.testing import CliRunner

COMMAND = str(Path(sys.executable).parent / "spatial-etl")


def _environment(**variables: str) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SPATIAL_ETL_")}
    return {**kept, **variables}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_missing_settings_exit_2_naming_the_variable(tmp_path: Path) -> None:
    done = subprocess.run(
        [COMMAND, "serve", "--port", "0"],
        cwd=tmp_path,  # no .env here
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, done.stderr
    assert "SPATIAL_ETL_MONGODB_URI is not set" in lines[0]
    assert "Traceback" not in done.stderr


@pytest.mark.s3
def test_an_unreachable_ledger_exits_2_before_listening(tmp_path: Path) -> None:
    port = _closed_port()
    env = _environment(
        SPATIAL_ETL_MONGODB_URI=f"mongodb://127.0.0.1:{_closed_port()}/?directConnection=true",
        SPATIAL_ETL_S3_ENDPOINT_URL=os.environ["SPATIAL_ETL_S3_ENDPOINT_URL"],
        SPATIAL_ETL_S3_ACCESS_KEY_ID="testing",
        SPATIAL_ETL_S3_SECRET_ACCESS_KEY="testing",
    )
    done = subprocess.run(
        [COMMAND, "serve", "--port", str(port), "--timeout", "0.5"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "error: cannot reach MongoDB (SPATIAL_ETL_MONGODB_URI)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Uvicorn running" not in done.stderr


@pytest.mark.s3
def test_serve_builds_the_catalogue_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db: Any = mongomock.MongoClient(tz_aware=True)["ledger"]
    ensure_indexes(db)
    timeouts: list[float] = []

    def open_ledger(timeout_s: float) -> Ledger:
        timeouts.append(timeout_s)
        return Ledger(db)

    served: dict[str, Any] = {}

    def run(app: Any, **options: Any) -> None:
        served.update(options, app=app)

    import uvicorn

    monkeypatch.setattr(connect, "open_ledger", open_ledger)
    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPATIAL_ETL_S3_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("SPATIAL_ETL_S3_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("SPATIAL_ETL_WEB_PUBLIC_URL", "http://catalogue.internal:8080")
    result = CliRunner().invoke(cli.app, ["--port", "9123", "--timeout", "2"])
    assert result.exit_code == 0, result.output
    assert timeouts == [2.0]
    assert served["host"] == "127.0.0.1"
    assert served["port"] == 9123
    streams = {h["stream"] for h in served["log_config"]["handlers"].values() if "stream" in h}
    assert streams == {"ext://sys.stderr"}  # the access log too: stdout stays clean
    client = TestClient(served["app"])
    assert client.get("/api/health").json() == {"status": "ok"}
    landing = client.get("/stac").json()
    assert landing["links"][0]["href"] == "http://catalogue.internal:8080/stac"
