"""The catalogue application's skeleton: it starts, answers, and hides its errors."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from spatial_etl_web.app import create_app


def test_health_answers_without_backends() -> None:
    client = TestClient(create_app(catalogue=None))  # type: ignore[arg-type]
    assert client.get("/api/health").json() == {"status": "ok"}


def test_an_unexpected_error_shows_no_trace() -> None:
    app = create_app(catalogue=None)  # type: ignore[arg-type]

    @app.get("/api/boom")
    def boom() -> Any:
        raise RuntimeError("secret /etc/path detail")

    client = TestClient(app, raise_server_exceptions=False)
    answer = client.get("/api/boom")
    assert answer.status_code == 500
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text
    assert answer.json()["code"] == "InternalError"
