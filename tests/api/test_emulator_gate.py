"""The embedded emulator is no public surface (issue 17, findings 1 and 8): it answers direct
local callers only, with a key nobody else holds, and its clips have unguessable names."""

from __future__ import annotations

import stat

import httpx

from pixelmotion.api.app import create_app
from tests.running import Running
from tests.server import run_async

LISTING = "/generations?limit=1000"


def test_a_caller_through_a_proxy_or_from_elsewhere_is_refused(sqlite_app: Running) -> None:
    base = sqlite_app.settings.emulator_base_url
    key = {"Authorization": f"Bearer {sqlite_app.settings.emulator_api_key}"}
    # Even holding the key: a reverse proxy on this host connects from loopback, but says so.
    for header in ("X-Forwarded-For", "X-Real-IP", "Forwarded"):
        answer = httpx.get(f"{base}{LISTING}", headers={**key, header: "203.0.113.9"})
        assert answer.status_code == 403, header
        assert answer.json()["error"]["code"] == "LOOPBACK_ONLY"

    # A caller from another address, straight at the app.
    async def from_elsewhere() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(sqlite_app.services), client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://pixelmotion.example") as client:
            paths = [f"/emulator/luma/dream-machine/v1{LISTING}", "/emulator/luma/dream-machine/v1/_stats"]
            return [(await client.get(path, headers=key)).status_code for path in paths]

    assert run_async(from_elsewhere()) == [403, 403]
    # This host's own worker still reaches it.
    assert httpx.get(f"{base}{LISTING}", headers=key).status_code == 200


def test_there_is_no_well_known_key(sqlite_app: Running) -> None:
    base = sqlite_app.settings.emulator_base_url
    for key in ("emulator", "test-key"):
        answer = httpx.get(f"{base}{LISTING}", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 401
    kept = sqlite_app.settings.data_dir / "emulator_api_key"
    assert kept.read_text().strip() == sqlite_app.settings.emulator_api_key
    assert len(sqlite_app.settings.emulator_api_key) >= 32
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600


def test_healthz_shows_where_the_emulator_answers(sqlite_app: Running) -> None:
    provider = httpx.get(f"{sqlite_app.url}/healthz").json()["checks"]["provider"]
    assert provider["emulatorUrl"] == sqlite_app.settings.emulator_base_url
    assert provider["emulatorUrl"].startswith("http://127.0.0.1:")
