"""Per-user limits and the request body cap: 429/413 with a clear reason; others unaffected."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.running import Running, start

REQUEST = {
    "prompt": "a snowman melting",
    "width": 16,
    "height": 16,
    "colorCount": 4,
    "fps": 12,
    "resolution": "540p",
}


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[Running]:
    yield from start(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        user_max_active_jobs="2",
        user_jobs_per_hour="3",
        user_daily_budget_usd="0.5",
        emulator_dream_seconds="30",  # jobs stay active through the test
    )


def test_active_jobs_are_capped_per_user(limited: Running) -> None:
    with limited.client("alice") as alice, limited.client("bob") as bob:
        assert [alice.post("/v1/jobs", json=REQUEST).status_code for _ in range(2)] == [202, 202]
        refused = alice.post("/v1/jobs", json=REQUEST)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "TOO_MANY_ACTIVE_JOBS"
        assert int(refused.headers["Retry-After"]) > 0
        assert bob.post("/v1/jobs", json=REQUEST).status_code == 202  # other users are untouched


def test_jobs_per_hour_count_canceled_ones_too(limited: Running) -> None:
    with limited.client("carol") as carol:
        for _ in range(3):
            job_id = carol.post("/v1/jobs", json=REQUEST).json()["jobId"]
            carol.post(f"/v1/jobs/{job_id}/cancel")
        refused = carol.post("/v1/jobs", json=REQUEST)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "HOURLY_LIMIT"
        assert 0 < int(refused.headers["Retry-After"]) <= 3601


def test_the_daily_budget_counts_estimated_cost(limited: Running) -> None:
    with limited.client("dave") as dave:
        expensive = {**REQUEST, "resolution": "1080p", "duration": 9}  # ray-2 1080p 9 s: about $2.87
        refused = dave.post("/v1/jobs", json=expensive)
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "DAILY_BUDGET"
        assert "$0.50" in refused.json()["error"]["message"]
        assert dave.post("/v1/jobs", json={**REQUEST, "model": "ray-flash-2"}).status_code == 202


def test_oversized_bodies_are_refused(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        huge = client.post(
            "/v1/jobs",
            content=b"{" + b" " * (2 * 1024 * 1024) + b"}",
            headers={"Content-Type": "application/json"},
        )
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

        def chunks() -> Iterator[bytes]:
            for _ in range(40):
                yield b" " * 65536

        streamed = client.post("/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413
        assert client.post("/v1/jobs", json=REQUEST).status_code == 202


@pytest.fixture
def three_at_once(tmp_path: Path, database_url: str) -> Iterator[Running]:
    yield from start(
        tmp_path,
        database_url,
        user_max_active_jobs="3",
        user_jobs_per_hour="1000",
        emulator_dream_seconds="60",  # the admitted jobs stay active through the test
    )


def test_concurrent_submissions_never_pass_the_limit_together(three_at_once: Running) -> None:
    """200 submissions at once, over real HTTP: the limit check and the insert are one
    transaction under the user's lock, so exactly 3 are admitted, on SQLite and PostgreSQL.
    Another user submitting amid the flood is admitted too: the flood's requests wait their
    turn without holding the database pool's connections."""
    start_line = threading.Barrier(SENDERS + 1)

    def send(_: int) -> list[int]:
        with three_at_once.client("erin") as erin:
            start_line.wait(timeout=30)
            return [erin.post("/v1/jobs", json=REQUEST).status_code for _ in range(SUBMISSIONS // SENDERS)]

    def another_user() -> list[int]:
        with three_at_once.client("frank") as frank:
            start_line.wait(timeout=30)
            return [frank.post("/v1/jobs", json=REQUEST).status_code for _ in range(3)]

    with ThreadPoolExecutor(SENDERS + 1) as pool:
        franks = pool.submit(another_user)
        statuses = Counter(status for batch in pool.map(send, range(SENDERS)) for status in batch)
    assert statuses == {202: 3, 429: SUBMISSIONS - 3}
    assert franks.result() == [202, 202, 202]
    with three_at_once.client("erin") as erin:
        assert len(erin.get("/v1/jobs", params={"limit": 100}).json()["jobs"]) == 3


SENDERS = 40
SUBMISSIONS = 200
