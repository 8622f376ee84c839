"""The provider account's limits, end to end: jobs past a cap wait in pending with a queue
position instead of failing, and the emulator (enforcing Luma's tier) never answers 429."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelmotion.providers.emulator import render_clip
from tests.running import Running, start
from tests.server import wait_for

CANVAS = {"width": 16, "height": 16, "colorCount": 4, "fps": 12}
REQUEST = {**CANVAS, "prompt": "a lighthouse in a storm", "resolution": "540p", "aspectRatio": "16:9"}


def emulator_stats(app: Running) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {app.settings.emulator_api_key}"}
    body: dict[str, Any] = httpx.get(f"{app.settings.emulator_base_url}/_stats", headers=headers).json()
    return body


@pytest.fixture
def capped(tmp_path: Path, database_url: str) -> Iterator[Running]:
    yield from start(
        tmp_path,
        database_url,
        provider_max_in_flight="2",
        emulator_max_in_flight="2",  # the emulated account refuses a third with 429
        emulator_dream_seconds="1.5",
    )


def test_jobs_past_the_in_flight_cap_wait_their_turn(capped: Running) -> None:
    users = ["ann", "ben", "cat"]
    clients = {user: capped.client(user) for user in users}
    try:
        created = [(user, clients[user].post("/v1/jobs", json=REQUEST)) for user in users * 2]
        assert [response.status_code for _, response in created] == [202] * 6
        jobs = [(user, response.json()["jobId"]) for user, response in created]

        def someone_waits_in_line() -> bool:
            bodies = [clients[user].get(f"/v1/jobs/{job_id}").json() for user, job_id in jobs]
            return any(b["status"] == "pending" and (b["queuePosition"] or 0) >= 1 for b in bodies)

        wait_for(someone_waits_in_line, timeout=30, what="a job waiting with a queue position")
        finals = [
            capped.wait_for_status(clients[u], j, {"completed", "failed"}, timeout=120) for u, j in jobs
        ]
        assert [job["status"] for job in finals] == ["completed"] * 6
        assert all(job["queuePosition"] is None for job in finals)
        stats = emulator_stats(capped)
        assert stats["created"] == 6  # one generation each, none refused
        assert stats["rate_limited"] == 0
    finally:
        for client in clients.values():
            client.close()


@pytest.fixture
def low_credit(tmp_path: Path) -> Iterator[Running]:
    yield from start(
        tmp_path,
        f"sqlite:///{tmp_path / 'db.sqlite'}",
        emulator_credit_cents="50",
        min_credit_cents="100",
        credit_check_seconds="0.2",
    )


def test_new_jobs_wait_while_the_credit_balance_is_low(low_credit: Running, tmp_path: Path) -> None:
    with low_credit.client() as client, httpx.Client(base_url=low_credit.url) as anonymous:
        health = wait_for(
            lambda: (h := anonymous.get("/healthz")).status_code == 503 and h.json(),
            timeout=20,
            what="/healthz to report the low balance",
        )
        assert health["checks"]["credits"]["ok"] is False
        assert "below the minimum" in health["checks"]["credits"]["error"]
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        # An import (no provider) created after it and finished proves the worker has been
        # claiming work since: the generation was passed over, not merely not reached yet.
        clip = render_clip("my own video", tmp_path / "mine.mp4", width=160, height=120, fps=12, seconds=1)
        upload_id = client.post("/v1/uploads", content=clip.read_bytes()).json()["uploadId"]
        imported = client.post(
            "/v1/jobs", json={**CANVAS, "source": {"type": "upload", "uploadId": upload_id}}
        )
        assert imported.status_code == 202, imported.text
        low_credit.wait_for_status(client, imported.json()["jobId"], {"completed"})
        waiting = client.get(f"/v1/jobs/{job_id}").json()
        assert waiting["status"] == "pending" and waiting["queuePosition"] == 1
        assert emulator_stats(low_credit)["created"] == 0


@pytest.fixture
def budgeted(tmp_path: Path) -> Iterator[Running]:
    # ray-2 540p 16:9 5 s is about $0.40: a $1.00 day pays for two.
    yield from start(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", daily_budget_usd="1.0")


def test_the_daily_budget_holds_new_jobs_until_tomorrow(budgeted: Running) -> None:
    with budgeted.client() as client:
        job_ids = [client.post("/v1/jobs", json=REQUEST).json()["jobId"] for _ in range(3)]

        def held_by_budget() -> list[dict[str, Any]]:
            bodies = [client.get(f"/v1/jobs/{job_id}").json() for job_id in job_ids]
            return [body for body in bodies if "budget" in (body["progressMessage"] or "")]

        held = wait_for(held_by_budget, timeout=30, what="a job held back by the daily budget")
        assert len(held) == 1 and held[0]["status"] == "pending"
        for job_id in job_ids:
            if job_id != held[0]["jobId"]:
                finished = budgeted.wait_for_status(client, job_id, {"completed", "failed"})
                assert finished["status"] == "completed"
        assert emulator_stats(budgeted)["created"] == 2
        caps = httpx.get(f"{budgeted.url}/healthz").json()["checks"]["providerCaps"]
        assert caps["dailyBudgetUsd"] == 1.0 and 0.7 < caps["spentTodayUsd"] < 1.0
