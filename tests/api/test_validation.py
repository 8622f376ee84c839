"""Bad input gets a clear error, a fitting status, and touches no job."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.running import Running

GOOD = {"prompt": "a red fox running", "width": 64, "height": 64, "colorCount": 16, "fps": 24}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt": "hi"}, "prompt"),
        ({"prompt": "x" * 5001}, "prompt"),
        ({"prompt": "x" * 4990}, "prompt"),  # fits alone, not with the style template
        ({"width": 4}, "width"),
        ({"height": 513}, "height"),
        ({"colorCount": 1}, "colorCount"),
        ({"colorCount": 257}, "colorCount"),
        ({"fps": 25}, "fps"),
        ({"duration": 7}, "duration"),
        ({"model": "ray-9"}, "model"),
        ({"width": 512, "height": 512, "fps": 30, "duration": 9}, "width"),
        ({"sneaky": True}, "sneaky"),
    ],
)
def test_invalid_requests_are_refused_with_the_field_named(
    sqlite_app: Running, change: dict[str, object], field: str
) -> None:
    with sqlite_app.client() as client:
        response = client.post("/v1/jobs", json={**GOOD, **change})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "INVALID_REQUEST"
        assert field in error["fields"], error
        assert error["message"]
        assert client.get("/v1/jobs").json()["jobs"] == []


def test_a_body_that_is_not_json_is_refused(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        response = client.post("/v1/jobs", content=b"{nope", headers={"Content-Type": "application/json"})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "INVALID_REQUEST"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer not-a-jwt", "Basic dXNlcjpwYXNz"])
def test_requests_without_a_valid_token_are_refused(sqlite_app: Running, header: str | None) -> None:
    with sqlite_app.client(None) as client:
        headers = {"Authorization": header} if header else {}
        response = client.post("/v1/jobs", json=GOOD, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "UNAUTHORIZED"
        assert "Traceback" not in response.text


def test_a_token_for_another_audience_or_expired_is_refused(sqlite_app: Running) -> None:
    from pixelmotion.security import issue_token

    settings = sqlite_app.settings
    for token in (
        issue_token(settings.jwt_secret, "alice", audience="someone-else"),
        issue_token(settings.jwt_secret, "alice", audience=settings.jwt_audience, ttl_seconds=-60),
        issue_token("another-secret-that-is-long-enough-for-hs256", "alice", audience=settings.jwt_audience),
    ):
        with sqlite_app.client(None) as client:
            response = client.get("/v1/jobs", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401


def test_unknown_job_ids_are_404(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        assert client.get("/v1/jobs/not-a-uuid").status_code == 404
        assert client.get("/v1/jobs/00000000-0000-0000-0000-000000000000").status_code == 404


def test_health_reports_each_part(sqlite_app: Running) -> None:
    with sqlite_app.client(None) as client:
        body = client.get("/healthz").json()
        assert body["ok"] is True
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["worker"]["running"] is True


def test_cors_is_off_unless_origins_are_set(sqlite_app: Running, tmp_path: Path) -> None:
    from tests.running import start

    preflight = {"Origin": "https://editor.example", "Access-Control-Request-Method": "POST"}
    with sqlite_app.client(None) as client:
        assert "access-control-allow-origin" not in client.options("/v1/jobs", headers=preflight).headers
    runner = start(
        tmp_path / "cors", f"sqlite:///{tmp_path / 'cors.db'}", cors_origins="https://editor.example"
    )
    app = next(runner)
    try:
        with app.client(None) as client:
            answer = client.options("/v1/jobs", headers=preflight)
            assert answer.headers["access-control-allow-origin"] == "https://editor.example"
    finally:
        next(runner, None)
