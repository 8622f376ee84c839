"""A whole pixelmotion (API, worker, embedded emulator) served on loopback, per test.

The ``app`` and ``sqlite_app`` fixtures live in tests/conftest.py, for every test folder."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pixelmotion.api.app import create_app
from pixelmotion.bootstrap import Services, bootstrap
from pixelmotion.config import Settings, load_settings
from pixelmotion.security import issue_token
from tests.server import free_port, serve

# Rendered emulator clips are deterministic per prompt: tests share them, across runs too.
CLIP_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "emulator-clips"


@dataclass
class Running:
    url: str
    services: Services
    settings: Settings

    def token(self, user: str) -> str:
        return issue_token(self.settings.jwt_secret, user, audience=self.settings.jwt_audience)

    def client(self, user: str | None = "alice") -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def wait_for_status(
        self, client: httpx.Client, job_id: str, statuses: set[str], timeout: float = 60
    ) -> dict[str, Any]:
        """The job once in one of ``statuses``; fails once it has not moved (status, progress
        or message) for ``timeout`` seconds. A stuck job fails as surely as with a total
        deadline, but a job that keeps going on a machine loaded by the other test processes
        is not failed for the machine's speed (a test that bounds time measures it itself)."""
        deadline = time.monotonic() + timeout
        seen: tuple[Any, ...] = ()
        while True:
            body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
            if body["status"] in statuses:
                return body
            now = (body["status"], body.get("progress"), body.get("progressMessage"))
            if now != seen:
                seen, deadline = now, time.monotonic() + timeout
            elif time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} did not move for {timeout}s short of {statuses}: {now}")
            time.sleep(0.05)


def start(tmp_path: Path, database_url: str, **env: str) -> Generator[Running]:
    port = free_port()
    settings = load_settings(
        {
            "PIXELMOTION_DATA_DIR": str(tmp_path / "data"),
            "PIXELMOTION_DATABASE_URL": database_url,
            "PIXELMOTION_PORT": str(port),
            "PIXELMOTION_EMULATOR_DREAM_SECONDS": "0.6",
            "PIXELMOTION_EMULATOR_CLIP_DIR": str(CLIP_CACHE),
            # Tests steer the emulator with [[fault:...]] prompt directives.
            "PIXELMOTION_EMULATOR_PROMPT_FAULTS": "1",
            **{f"PIXELMOTION_{k.upper()}": v for k, v in env.items()},
        }
    )
    services = bootstrap(settings)
    try:
        with serve(create_app(services), port=port):
            yield Running(url=settings.public_url, services=services, settings=settings)
    finally:
        services.close()
