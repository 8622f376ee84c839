"""Attacks from issue 17 against a served instance, on SQLite and PostgreSQL: each now ends
in a coded 4xx or does nothing (findings 10, 11 and 14)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import httpx
import pytest

from pixelmotion.security import callback_url
from tests.running import Running
from tests.server import wait_for

REQUEST = {
    "prompt": "a blue whale jumping",
    "width": 32,
    "height": 32,
    "colorCount": 8,
    "fps": 12,
    "resolution": "540p",
}
IMPORT = {"width": 32, "height": 32, "colorCount": 8, "fps": 12}


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logged() -> Iterator[Collect]:
    """Every record of the server's loggers (uvicorn's do not reach the root logger)."""
    handler = Collect()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "pixelmotion")]
    for logger in loggers:
        logger.addHandler(handler)
    previous = logging.getLogger("pixelmotion").level
    logging.getLogger("pixelmotion").setLevel(logging.INFO)
    yield handler
    logging.getLogger("pixelmotion").setLevel(previous)
    for logger in loggers:
        logger.removeHandler(handler)


def test_a_callback_nested_900_deep_is_a_400_before_any_recursion(app: Running, logged: Collect) -> None:
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        before = client.get(f"/v1/jobs/{job_id}").json()["status"]
        body = b'{"id": "x", "state": "completed", "a": ' + b"[" * 900 + b"]" * 900 + b"}"
        answer = httpx.post(
            callback_url(app.url, app.settings.secret_key, job_id),
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 400
        assert answer.json()["error"] == {
            "code": "INVALID_CALLBACK",
            "message": "The callback body is nested too deeply.",
        }
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] in {
            before,
            "queued",
            "dreaming",
            "processing",
            "completed",
        }
    assert not [r for r in logged.records if r.levelno >= logging.ERROR]


def test_a_client_leaving_mid_body_is_an_ordinary_outcome(sqlite_app: Running, logged: Collect) -> None:
    token = sqlite_app.token("alice")
    port = int(sqlite_app.url.rsplit(":", 1)[1])
    job_id = "00000000-0000-4000-8000-000000000000"
    # An upload, and a callback with a valid token: both read the body themselves.
    for path in ("/v1/uploads", callback_url("", sqlite_app.settings.secret_key, job_id)):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            head = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
                "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n"
            )
            sock.sendall(head.encode() + b'{"prompt": "half a bo')
    # The server noticed both (one quiet line each) and logged no error, no traceback.
    wait_for(
        lambda: sum("client disconnected" in r.getMessage() for r in logged.records) >= 2,
        timeout=10,
        what="the disconnect to be noticed",
    )
    errors = [r for r in logged.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]
    with sqlite_app.client() as client:
        assert client.get("/v1/jobs").status_code == 200


@pytest.mark.parametrize(
    "url", ["http://0177.0.0.1/clip.mp4", "http://0x7f.1/clip.mp4", "http://2130706433/x.mp4"]
)
def test_an_import_from_an_odd_numeric_host_is_a_coded_422(app: Running, url: str) -> None:
    with app.client() as client:
        answer = client.post("/v1/jobs", json={**IMPORT, "source": {"type": "url", "url": url}})
        assert answer.status_code == 422
        error = answer.json()["error"]
        assert error["code"] == "INVALID_REQUEST" and any(f.startswith("source.url") for f in error["fields"])
        assert client.get("/v1/jobs").json()["jobs"] == []


def test_an_import_of_our_own_address_fails_with_a_generic_message(app: Running) -> None:
    """The emulator's _stats (or any route of ours) fetched as a "video": refused, and the
    user learns nothing about where our names point."""
    with app.client() as client:
        for url in (
            f"{app.settings.emulator_base_url}/_stats",
            f"{app.url}/healthz",
            "http://localhost:5432/x.mp4",
        ):
            job_id = client.post("/v1/jobs", json={**IMPORT, "source": {"type": "url", "url": url}}).json()[
                "jobId"
            ]
            failed = app.wait_for_status(client, job_id, {"failed", "completed"})
            assert failed["status"] == "failed"
            assert failed["error"]["code"] == "URL_NOT_ALLOWED"
            assert (
                "127.0.0.1" not in failed["error"]["message"] and "resolves" not in failed["error"]["message"]
            )
