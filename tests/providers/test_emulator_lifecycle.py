"""States, callbacks exactly as Luma sends them, the clip itself, and surviving a restart."""

from __future__ import annotations

import concurrent.futures
import io
import itertools
import multiprocessing
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import httpx
import lumaai
import pytest
from PIL import Image

from .conftest import (
    PROMPT,
    SMALL,
    CallbackReceiver,
    EmulatorServer,
    generation_id,
    running_emulator,
    sdk,
    wait_for,
)


def completed(client: lumaai.LumaAI, generation_id: str | None, timeout: float = 20) -> Any:
    assert generation_id is not None

    def check() -> Any:
        generation = client.generations.get(generation_id)
        return generation if generation.state in ("completed", "failed") else None

    return wait_for(check, timeout=timeout)


def test_callbacks_carry_the_whole_generation_dreaming_then_completed(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    client = sdk(emulator_server)
    url = receiver.url("plain")
    created = client.generations.create(model="ray-2", prompt=PROMPT, callback_url=url, **SMALL)
    wait_for(lambda: len(receiver.received("plain")) == 2, timeout=20)

    dreaming, done = (item.body for item in receiver.received("plain"))
    assert [dreaming["state"], done["state"]] == ["dreaming", "completed"]
    fetched = client.with_raw_response.generations.get(generation_id(created)).http_response.json()
    assert done == fetched  # the whole Generation object, as GET answers it
    assert done["request"]["callback_url"] == url
    assert f"/assets/{generation_id(created)}/" in done["assets"]["video"]
    assert dreaming["assets"]["video"] is None


def test_only_200_counts_and_delivery_is_retried_three_times(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    client = sdk(emulator_server)
    # dreaming: 204, 201, 500, then 200 on the third retry. completed: four failures, given up.
    retried = receiver.url("retried", [204, 201, 500, 200, 204, 204, 204, 204])
    created = client.generations.create(model="ray-2", prompt=PROMPT, callback_url=retried, **SMALL)
    assert completed(client, generation_id(created)).state == "completed"
    wait_for(lambda: len(receiver.received("retried")) == 8, timeout=10)

    attempts = receiver.received("retried")
    assert [item.body["state"] for item in attempts] == ["dreaming"] * 4 + ["completed"] * 4
    assert [item.status for item in attempts] == [204, 201, 500, 200, 204, 204, 204, 204]
    # 100 ms apart: never sooner on the wall clock; the exact pause, which a loaded machine
    # can only lengthen, is checked with recorded pauses in test_emulator_callbacks.py.
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(attempts[4:])]
    assert all(gap >= 0.09 for gap in gaps), gaps
    # No fifth attempt for completed.
    with pytest.raises(AssertionError):
        wait_for(lambda: len(receiver.received("retried")) > 8, timeout=0.6)


def test_asset_is_a_real_h264_clip_of_the_requested_shape(
    emulator_server: EmulatorServer,
) -> None:
    client = sdk(emulator_server)
    created = client.generations.create(
        model="ray-2", prompt=PROMPT, resolution="540p", aspect_ratio="16:9", duration="5s"
    )
    generation = completed(client, generation_id(created), timeout=30)
    assert generation.state == "completed"
    data = httpx.get(generation.assets.video).content

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height) == (960, 540)
        assert stream.average_rate == Fraction(24)
        assert stream.format.name == "yuv420p"
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
    assert len(frames) == 120  # 5 s at 24 fps
    assert (frames[0] != frames[60]).any()  # it moves


def test_asset_supports_range_requests(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    created = client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)
    video = completed(client, generation_id(created)).assets.video
    whole = httpx.get(video).content
    part = httpx.get(video, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-199/{len(whole)}"
    assert part.content == whole[100:200]
    assert whole[4:8] == b"ftyp"


def test_asset_of_unknown_or_deleted_generation_is_404(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    created = client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)
    video = completed(client, generation_id(created)).assets.video
    assert httpx.get(video).status_code == 200
    client.generations.delete(generation_id(created))
    assert httpx.get(video).status_code == 404
    assert httpx.get(f"{emulator_server.root}/assets/nope.mp4").status_code == 404


def test_deleted_generation_sends_no_more_callbacks(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    client = sdk(emulator_server)
    url = receiver.url("deleted")
    created = client.generations.create(model="ray-2", prompt=PROMPT, callback_url=url, **SMALL)
    wait_for(lambda: receiver.received("deleted"), timeout=10)
    client.generations.delete(generation_id(created))
    with pytest.raises(AssertionError):
        wait_for(lambda: len(receiver.received("deleted")) > 1, timeout=1.2)


def test_image_keyframe_is_fetched_and_used(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    image = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 20, 200)).save(image, format="PNG")
    receiver.files["/magenta.png"] = ("image/png", image.getvalue())
    client = sdk(emulator_server)
    keyframes: Any = {"frame0": {"type": "image", "url": receiver.base_url + "/magenta.png"}}
    created = client.generations.create(model="ray-2", keyframes=keyframes, **SMALL)
    video = completed(client, generation_id(created), timeout=30).assets.video
    with av.open(io.BytesIO(httpx.get(video).content), mode="r") as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    red, green, blue = first[2, 2]  # a corner: background, not a shape
    assert red > 200 and green < 70 and blue > 150

    missing: Any = {"frame0": {"type": "image", "url": receiver.base_url + "/missing.png"}}
    failed = client.generations.create(model="ray-2", keyframes=missing, **SMALL)
    generation = completed(client, failed.id)
    assert (generation.state, generation.failure_reason) == (
        "failed",
        "Failed to read user input frames",
    )


def test_generations_survive_a_restart(fresh_cache: Path) -> None:
    cache = fresh_cache
    with running_emulator(cache, dream_seconds=1.5) as first:
        client = sdk(first)
        done = client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)
        pending = client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)
    # Stopped while `pending` was queued. A new process knows both and finishes `pending`.
    with running_emulator(cache, dream_seconds=1.5) as second:
        client = sdk(second)
        assert {g.id for g in client.generations.list().generations} == {done.id, pending.id}
        assert completed(client, pending.id).state == "completed"
        assert second.stats()["created"] == 2


def test_clips_render_in_a_process_pool(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    with (
        concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool,
        running_emulator(tmp_path, render_executor=pool, dream_seconds=0.3) as server,
    ):
        client = sdk(server)
        created = client.generations.create(model="ray-2", prompt="a pool of fish", **SMALL)
        assert completed(client, generation_id(created), timeout=60).state == "completed"
    assert len(list((tmp_path / "clips").glob("*.mp4"))) == 1
