"""Webhooks out over real HTTP: signed per Standard Webhooks, retried, disabled on 410."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from tests.running import Running, start
from tests.server import http_server, wait_for

REQUEST = {
    "prompt": "a paper plane gliding",
    "width": 16,
    "height": 16,
    "colorCount": 4,
    "fps": 12,
    "resolution": "540p",
}


@dataclass
class Receiver:
    port: int
    answers: list[int] = field(default_factory=list)  # statuses to give, in order; then 200
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = state.answers.pop(0) if state.answers else 200
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http_server(Handler) as httpd:
        state.port = int(httpd.server_address[1])
        yield state


@pytest.fixture
def app(tmp_path: Path, receiver: Receiver) -> Iterator[Running]:
    yield from start(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        allowed_webhook_hosts=f"127.0.0.1:{receiver.port}",
        webhook_retry_schedule="0,0.2,0.2",
    )


def deliveries(app: Running, client: Any, job_id: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = client.get(f"/v1/jobs/{job_id}/deliveries").json()
    return body


def test_a_terminal_state_is_posted_signed(app: Running, receiver: Receiver) -> None:
    with app.client() as client:
        created = client.post("/v1/jobs", json={**REQUEST, "webhookUrl": receiver.url}).json()
        secret = created["webhookSecret"]
        assert secret.startswith("whsec_") and len(secret) >= len("whsec_") + 32
        app.wait_for_status(client, created["jobId"], {"completed"})
        wait_for(lambda: receiver.received, timeout=20, what="the webhook")
        headers, body = receiver.received[0]
        payload = Webhook(secret).verify(body, headers)
        assert payload["type"] == "job.completed"
        assert payload["data"]["jobId"] == created["jobId"] and payload["data"]["outputs"]["gif"]
        assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(headers)
        with pytest.raises(Exception):  # noqa: B017 - any verification failure will do
            Webhook(secret).verify(body.replace(b"completed", b"failed"), headers)
        done = wait_for(
            lambda: [d for d in deliveries(app, client, created["jobId"]) if d["status"] == "succeeded"],
            timeout=10,
            what="the delivery to be recorded",
        )
        assert done[0]["lastStatusCode"] == 200 and done[0]["eventType"] == "job.completed"
        assert len(receiver.received) == 1  # only the terminal state was asked for


def test_failures_are_retried_on_the_schedule_and_redirects_are_failures(
    app: Running, receiver: Receiver
) -> None:
    receiver.answers = [500, 302]
    with app.client() as client:
        job_id = client.post("/v1/jobs", json={**REQUEST, "webhookUrl": receiver.url}).json()["jobId"]
        app.wait_for_status(client, job_id, {"completed"})
        wait_for(lambda: len(receiver.received) >= 3, timeout=20, what="three attempts")
        final = wait_for(
            lambda: [d for d in deliveries(app, client, job_id) if d["status"] == "succeeded"],
            timeout=10,
            what="success",
        )
        assert final[0]["attempts"] == 3
        assert len({h["webhook-id"] for h, _ in receiver.received}) == 1  # one message, retried


def test_gone_disables_the_endpoint(app: Running, receiver: Receiver) -> None:
    receiver.answers = [410]
    with app.client() as client:
        client.post("/v1/webhooks", json={"url": receiver.url})
        first = client.post("/v1/jobs", json=REQUEST).json()["jobId"]  # the user's endpoint applies
        app.wait_for_status(client, first, {"completed"})
        wait_for(lambda: receiver.received, timeout=20, what="the first webhook")
        wait_for(lambda: client.get("/v1/webhooks").json()[0]["disabled"], timeout=10, what="disabling")
        assert deliveries(app, client, first)[0]["status"] == "failed"
        second = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        app.wait_for_status(client, second, {"completed"})
        assert deliveries(app, client, second) == []
        assert len(receiver.received) == 1


def test_progress_is_sent_when_asked_and_redelivery_sends_again(app: Running, receiver: Receiver) -> None:
    with app.client() as client:
        job_id = client.post(
            "/v1/jobs", json={**REQUEST, "webhookUrl": receiver.url, "webhookEvents": "all"}
        ).json()["jobId"]
        app.wait_for_status(client, job_id, {"completed"})
        wait_for(
            lambda: any(json.loads(b)["type"] == "job.completed" for _, b in receiver.received),
            timeout=20,
            what="the completed webhook",
        )
        types = [json.loads(body)["type"] for _, body in receiver.received]
        assert "job.progress" in types and types.count("job.completed") == 1
        last = deliveries(app, client, job_id)[-1]
        count = len(receiver.received)
        assert client.post(f"/v1/jobs/{job_id}/deliveries/{last['id']}/redeliver").status_code == 202
        wait_for(lambda: len(receiver.received) > count, timeout=10, what="the redelivery")


def test_internal_webhook_urls_are_refused(app: Running) -> None:
    with app.client() as client:
        job_id = client.post(
            "/v1/jobs", json={**REQUEST, "webhookUrl": "http://127.0.0.1:5432/steal"}
        ).json()["jobId"]
        app.wait_for_status(client, job_id, {"completed"})
        refused = wait_for(
            lambda: [d for d in deliveries(app, client, job_id) if d["lastError"]],
            timeout=10,
            what="the refusal",
        )
        assert refused[0]["lastError"].startswith("refused")
