"""Helpers for the fault-injection tests: a whole service per test, the emulator's bill, and
how many times a job was processed.

Every test here asserts four things about each job: its end state, its error code when it
fails, the generations we paid for (``created`` minus the failed ones, which Luma refunds),
and the processing runs (``job_events`` rows "Downloading clip...").
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pixelmotion.jobs.states import PROCESSING_STEPS
from tests.running import Running, start

# Same prompt, size and resolution in every test: the emulator renders the clip once (the
# fault directives are stripped before the clip is looked up) and the tests share it.
PROMPT = "a red fox running through snow"
REQUEST: dict[str, Any] = {
    "width": 24,
    "height": 24,
    "colorCount": 6,
    "fps": 12,
    "resolution": "540p",
}
# Quick by default; a lost callback is noticed after 5 s rather than 90.
DEFAULTS = {"EMULATOR_DREAM_SECONDS": "0.4", "CALLBACK_GRACE_SECONDS": "5"}
# The one service most tests share (starting one, with its process pool, costs seconds):
# short grace, short provider timeout, a 5 MB cap (the clips are about 0.5 MB).
SHARED = {
    "CALLBACK_GRACE_SECONDS": "2",
    "PROVIDER_TIMEOUT_SECONDS": "1.5",
    "MAX_VIDEO_BYTES": str(5 * 1024 * 1024),
    "AUTH_RETRY_SECONDS": "0.5",
}
DOWNLOADING = PROCESSING_STEPS["download"][1]
TERMINAL = {"completed", "failed", "canceled"}


@contextlib.contextmanager
def service(tmp_path: Path, database_url: str, **env: str) -> Iterator[Running]:
    """API + worker + embedded emulator, served on loopback with these settings."""
    yield from start(tmp_path, database_url, **{**DEFAULTS, **env})


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'pixelmotion.db'}"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One service (SQLite) for a whole test module; each test follows its own jobs."""
    tmp = tmp_path_factory.mktemp("shared")
    with service(tmp, f"sqlite:///{tmp / 'pixelmotion.db'}", **SHARED) as app:
        yield app


def job_request(fault: str = "", **overrides: Any) -> dict[str, Any]:
    """A request whose prompt carries ``fault`` directives and a unique tag: each job's
    ``*N`` directive counts start afresh, and the clip (rendered from the prompt without
    directives) is the same for every test."""
    tag = f"[[fault:tag_{uuid.uuid4().hex[:10]}]]"
    prompt = f"{PROMPT} {fault} {tag}".strip()
    return {**REQUEST, "prompt": prompt, **overrides}


def create_job(client: httpx.Client, fault: str = "", **overrides: Any) -> str:
    response = client.post("/v1/jobs", json=job_request(fault, **overrides))
    assert response.status_code == 202, response.text
    job_id: str = response.json()["jobId"]
    return job_id


def emulator_get(base_url: str, path: str, api_key: str) -> Any:
    response = httpx.get(f"{base_url}{path}", headers={"Authorization": f"Bearer {api_key}"}, timeout=10)
    response.raise_for_status()
    return response.json()


def stats(app: Running) -> dict[str, Any]:
    body: dict[str, Any] = emulator_get(
        app.settings.emulator_base_url, "/_stats", app.settings.emulator_api_key
    )
    return body


def generations(base_url: str, api_key: str) -> list[dict[str, Any]]:
    """Every generation the emulator still knows (deleted ones are gone)."""
    found: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = emulator_get(base_url, f"/generations?limit=1000&offset={offset}", api_key)
        found.extend(page["generations"])
        if not page["has_more"]:
            return found
        offset += page["count"]


def bill(base_url: str, api_key: str) -> dict[str, int]:
    """created / failed (refunded) / paid = created - failed / deleted, from the emulator."""
    counters = emulator_get(base_url, "/_stats", api_key)
    failed = sum(1 for g in generations(base_url, api_key) if g["state"] == "failed")
    created = int(counters["created"])
    return {
        "created": created,
        "failed": failed,
        "paid": created - failed,
        "deleted": int(counters["deleted"]),
    }


def app_bill(app: Running) -> dict[str, int]:
    return bill(app.settings.emulator_base_url, app.settings.emulator_api_key)


class Bill:
    """What one job cost, in a service other tests share: the emulator's ``created`` counter
    moved by exactly the generations whose callback URL names the job."""

    def __init__(self, app: Running) -> None:
        self.app = app
        self.before = stats(app)

    def of(self, job_id: str) -> dict[str, int]:
        app = self.app
        after = stats(app)
        mine = [
            g
            for g in generations(app.settings.emulator_base_url, app.settings.emulator_api_key)
            if f"/callbacks/luma/{job_id}" in str((g.get("request") or {}).get("callback_url"))
        ]
        created = after["created"] - self.before["created"]
        deleted = after["deleted"] - self.before["deleted"]
        assert created == len(mine) + deleted, "a generation that names no job was billed"
        failed = sum(1 for g in mine if g["state"] == "failed")
        return {"created": created, "failed": failed, "paid": created - failed, "deleted": deleted}

    def faults(self) -> dict[str, int]:
        after: dict[str, int] = stats(self.app)["faults"]
        before: dict[str, int] = self.before["faults"]
        changed = {name: count - before.get(name, 0) for name, count in after.items()}
        return {name: count for name, count in changed.items() if count and not name.startswith("tag_")}


def processing_runs(app: Running, job_id: str) -> int:
    events = app.services.repository.events.after(job_id=job_id)
    return sum(1 for event in events if event.message == DOWNLOADING)


def finish(app: Running, client: httpx.Client, job_id: str, timeout: float = 60) -> dict[str, Any]:
    return app.wait_for_status(client, job_id, TERMINAL, timeout=timeout)


def error_code(job: dict[str, Any]) -> str | None:
    error = job.get("error")
    return error.get("code") if isinstance(error, dict) else None
