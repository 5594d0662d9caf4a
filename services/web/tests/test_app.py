"""The catalogue application's skeleton: it starts, answers, and hides its errors."""

from __future__ import annotations

import re
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


def test_every_answer_forbids_other_origins_and_inline_script() -> None:
    client = TestClient(create_app(catalogue=None))  # type: ignore[arg-type]
    for path in ("/api/health", "/api", "/static/style.css"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_api_index_lists_the_routes_without_a_cdn_viewer() -> None:
    client = TestClient(create_app(catalogue=None))  # type: ignore[arg-type]
    assert client.get("/api/docs").status_code == 404  # Swagger UI would need a CDN
    page = client.get("/api").text
    for path in ("/api/assets", "/api/batches", "/api/intents", "/stac/search"):
        assert f">{path}<" in page, path
    others = re.findall(r"https?://[^\s\"'<>]+", page.replace("http://testserver/", ""))
    assert others == []
