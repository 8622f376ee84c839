"""Idempotency-Key on POST /v1/jobs: one job per key and body, never a second generation."""

from __future__ import annotations

import threading

from tests.api.conftest import Running

REQUEST = {
    "prompt": "a yellow duck swimming",
    "width": 32,
    "height": 32,
    "colorCount": 8,
    "fps": 12,
    "resolution": "540p",
}


def test_the_same_key_and_body_give_the_same_job(app: Running) -> None:
    with app.client() as client:
        headers = {"Idempotency-Key": "order-1"}
        first = client.post("/v1/jobs", json=REQUEST, headers=headers)
        second = client.post("/v1/jobs", json=REQUEST, headers=headers)
        assert first.status_code == second.status_code == 202
        assert first.json()["jobId"] == second.json()["jobId"]
        assert second.headers.get("Idempotent-Replayed") == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert len(client.get("/v1/jobs").json()["jobs"]) == 1
        plan = client.post("/functions/v1/video-generate", json=REQUEST, headers=headers)
        assert plan.json()["data"]["jobId"] == first.json()["jobId"]


def test_the_same_key_with_another_body_is_a_422(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        headers = {"Idempotency-Key": "order-2"}
        assert client.post("/v1/jobs", json=REQUEST, headers=headers).status_code == 202
        other = client.post("/v1/jobs", json={**REQUEST, "fps": 24}, headers=headers)
        assert other.status_code == 422
        assert other.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert len(client.get("/v1/jobs").json()["jobs"]) == 1


def test_keys_belong_to_their_user(sqlite_app: Running) -> None:
    with sqlite_app.client("alice") as alice, sqlite_app.client("bob") as bob:
        headers = {"Idempotency-Key": "shared-key"}
        a = alice.post("/v1/jobs", json=REQUEST, headers=headers).json()["jobId"]
        b = bob.post("/v1/jobs", json=REQUEST, headers=headers).json()["jobId"]
        assert a != b


def test_concurrent_requests_with_one_key_make_one_job(app: Running) -> None:
    answers: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def send() -> None:
        with app.client() as client:
            response = client.post("/v1/jobs", json=REQUEST, headers={"Idempotency-Key": "burst"})
            job_id = response.json().get("jobId") if response.status_code == 202 else None
            with lock:
                answers.append((response.status_code, job_id))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(answers) == 8
    assert {status for status, _ in answers} <= {202, 409}
    assert len({job_id for status, job_id in answers if status == 202}) == 1
    with app.client() as client:
        assert len(client.get("/v1/jobs").json()["jobs"]) == 1
