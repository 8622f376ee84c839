"""The Python client against a live server on loopback."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pixelmotion.client import AsyncClient, Client, Job, PixelmotionError
from tests.images import open_image
from tests.running import Running
from tests.server import run_async, wait_for

OPTIONS: dict[str, Any] = {"width": 32, "height": 32, "color_count": 8, "fps": 12, "resolution": "540p"}


def test_create_wait_download(sqlite_app: Running, tmp_path: Path) -> None:
    seen: list[str] = []
    # A line read every 30 s: the job's changes must come by its stream, none missed while
    # it waits in line and then runs through.
    with Client(sqlite_app.url, sqlite_app.token("alice"), queue_poll_seconds=30) as client:
        job = client.create("a pink robot waving", **OPTIONS)
        # create() reads the job back: a worker may have sent it on already (queued, dreaming).
        assert isinstance(job, Job) and job.status in ("pending", "queued", "dreaming")
        done = client.wait(job.id, timeout=60, on_update=lambda j: seen.append(j.status))
        assert done.status == "completed" and done.total_frames == 60 and done.error is None
        order = ["pending", "queued", "dreaming", "processing", "completed"]
        statuses = list(dict.fromkeys(seen))
        assert statuses == [s for s in order if s in statuses] and statuses[-2:] == [
            "processing",
            "completed",
        ]
        files = client.download(job.id, tmp_path)
        assert open_image(files["gif"]).size == (32, 32)
        assert files["frames"].read_bytes().startswith(b"{")
        assert [j.id for j in client.list()] == [job.id]


def test_errors_carry_code_and_status(sqlite_app: Running) -> None:
    with Client(sqlite_app.url, sqlite_app.token("alice")) as client:
        with pytest.raises(PixelmotionError) as raised:
            client.create("hi", **OPTIONS)
        assert raised.value.status == 422 and raised.value.code == "INVALID_REQUEST"
        with pytest.raises(PixelmotionError) as missing:
            client.get("00000000-0000-0000-0000-000000000000")
        assert missing.value.status == 404
    with Client(sqlite_app.url, "not-a-token") as anonymous, pytest.raises(PixelmotionError) as refused:
        anonymous.list()
    assert refused.value.code == "UNAUTHORIZED"


def test_cancel_and_retry(sqlite_app: Running) -> None:
    with Client(sqlite_app.url, sqlite_app.token("alice")) as client:
        job = client.create("a slow snail", **OPTIONS)
        assert client.cancel(job.id).status == "canceled"
        with pytest.raises(PixelmotionError) as raised:
            client.retry(job.id)
        assert raised.value.status == 409


def test_the_same_idempotency_key_gives_the_same_job(sqlite_app: Running) -> None:
    with Client(sqlite_app.url, sqlite_app.token("alice")) as client:
        first = client.create("a tiny ghost", idempotency_key="k1", **OPTIONS)
        again = client.create("a tiny ghost", idempotency_key="k1", **OPTIONS)
        assert first.id == again.id


def test_async_client(sqlite_app: Running, tmp_path: Path) -> None:
    seen: list[str] = []

    async def run() -> Job:
        # As the sync client: the changes come by the stream, not by a read of the line.
        async with AsyncClient(sqlite_app.url, sqlite_app.token("alice"), queue_poll_seconds=30) as client:
            job = await client.create("a bouncing ball", **OPTIONS)
            done = await client.wait(job.id, timeout=60, on_update=lambda j: seen.append(j.status))
            files = await client.download(job.id, tmp_path, formats=("gif",))
            assert open_image(files["gif"]).size == (32, 32)
            return done

    assert run_async(run()).status == "completed"
    assert list(dict.fromkeys(seen))[-2:] == ["processing", "completed"]


def test_connection_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from pixelmotion.client import resolve_connection

    config = tmp_path / "config.toml"
    config.write_text('url = "http://127.0.0.1:9999"\ntoken = "from-file"\n')
    monkeypatch.setenv("PIXELMOTION_CONFIG", str(config))
    monkeypatch.delenv("PIXELMOTION_URL", raising=False)
    monkeypatch.delenv("PIXELMOTION_TOKEN", raising=False)
    assert resolve_connection() == ("http://127.0.0.1:9999", "from-file")
    monkeypatch.setenv("PIXELMOTION_TOKEN", "from-env")
    assert resolve_connection()[1] == "from-env"
    assert resolve_connection("http://127.0.0.1:1/", "arg") == ("http://127.0.0.1:1", "arg")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_waiting_in_line_counts_down(capped_site: Running, kind: str) -> None:
    """A job behind the provider cap has no event while its place in line moves: wait()
    reads it again, so the caller sees #2, then #1, then the job going through.

    The jobs ahead are held by the emulator (``hold=NAME``) until the caller has seen each
    place, so no place can pass between two reads however slow the machine is."""
    seen: list[tuple[str, int | None]] = []

    def record(job: Job) -> None:
        seen.append((job.status, job.queue_position))

    def positions() -> list[int]:
        return [position for _, position in list(seen) if position is not None]

    holds = capped_site.services.emulator.holds
    first, second = f"{kind}-first", f"{kind}-second"
    token = capped_site.token(f"liner-{kind}")
    behind = [f"a bouncing slime [[fault:hold={second}]]", "a bouncing slime"]

    def follow_sync() -> Job:
        with Client(capped_site.url, token, queue_poll_seconds=0.05) as client:
            last = [client.create(prompt, **OPTIONS) for prompt in behind][-1]
            return client.wait(last.id, timeout=90, on_update=record)

    async def follow_async() -> Job:
        async with AsyncClient(capped_site.url, token, queue_poll_seconds=0.05) as client:
            jobs = [await client.create(prompt, **OPTIONS) for prompt in behind]
            return await client.wait(jobs[-1].id, timeout=90, on_update=record)

    try:
        with Client(capped_site.url, token) as client, ThreadPoolExecutor(max_workers=1) as pool:
            ahead = client.create(f"a bouncing slime [[fault:hold={first}]]", **OPTIONS)
            # Sent to the provider (and held there): the two jobs made next are #1 and #2.
            wait_for(lambda: client.get(ahead.id).status in ("queued", "dreaming"), timeout=30, what="sent")
            following = pool.submit(follow_sync if kind == "sync" else lambda: run_async(follow_async()))
            wait_for(lambda: 2 in positions(), timeout=60, what="the last job seen at #2")
            holds.release(first)
            wait_for(lambda: 1 in positions(), timeout=60, what="the last job seen at #1")
            holds.release(second)
            done = following.result(timeout=120)
    finally:  # the site serves the other tests of this module: hold nothing back
        holds.release(first)
        holds.release(second)
    assert done.status == "completed", seen
    assert list(dict.fromkeys(positions())) == [2, 1], seen
    assert all(status == "pending" for status, position in seen if position is not None)


def test_palette_file_render_and_every_export(sqlite_app: Running, tmp_path: Path) -> None:
    palette = tmp_path / "four.hex"
    palette.write_text("000000\nff0000\n00ff00\nffffff\n")
    with Client(sqlite_app.url, sqlite_app.token("alice")) as client:
        job = client.create(
            "a lantern swinging", width=16, height=16, fps=12, palette=palette, loop="pingpong"
        )
        assert (
            job.raw["palette"] == ["#000000", "#ff0000", "#00ff00", "#ffffff"]
            and job.raw["loop"] == "pingpong"
        )
        assert client.wait(job.id, timeout=60).status == "completed"
        again = client.render(job.id, width=24, palette="gameboy", background="keep")
        assert again.raw["parentJobId"] == job.id and again.raw["width"] == 24
        assert client.wait(again.id, timeout=60).status == "completed"
        names = ("aseprite", "webp", "apng", "zip", "sheetHash", "sheetArray", "godot")
        saved = client.download(again.id, tmp_path / "out", formats=names)
        assert sorted(saved) == sorted(names) and all(path.stat().st_size > 0 for path in saved.values())
        assert saved["aseprite"].name == "animation.aseprite" and saved["godot"].name == "animation.tres"
