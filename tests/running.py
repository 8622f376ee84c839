"""A whole pixelmotion (API, worker, embedded emulator) served on loopback, per test.

The ``app`` and ``sqlite_app`` fixtures live in tests/conftest.py, for every test folder."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from pixelmotion.api.app import create_app
from pixelmotion.bootstrap import Services, bootstrap
from pixelmotion.config import Settings, load_settings
from pixelmotion.security import issue_token
from tests.server import free_port, serve, wait_for

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
        def reached() -> dict[str, Any] | None:
            body: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
            return body if body["status"] in statuses else None

        result: dict[str, Any] = wait_for(
            reached, timeout=timeout, what=f"job {job_id} to reach {statuses}", interval=0.05
        )
        return result


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
