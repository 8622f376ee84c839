"""The emulator speaks Luma's API: the official SDK works against it unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import lumaai
import pytest

from pixelmotion.providers.emulator import EmulatorSettings, create_emulator_app
from tests.server import run_async

from .conftest import (
    API_KEY,
    PROMPT,
    SMALL,
    AsgiServer,
    EmulatorServer,
    bound_socket,
    generation_id,
    sdk,
    wait_for,
)


def test_sdk_creates_gets_lists_and_deletes(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    created = client.generations.create(model="ray-2", prompt=PROMPT, duration="5s", **SMALL)
    assert generation_id(created) and created.state == "queued"
    assert created.model == "ray-2" and created.generation_type == "video"
    assert created.created_at is not None

    fetched = client.generations.get(generation_id(created))
    assert fetched.id == generation_id(created)

    listed = client.generations.list(limit=100, offset=0)
    assert generation_id(created) in [generation.id for generation in listed.generations]
    assert listed.limit == 100 and listed.offset == 0
    assert listed.count == len(listed.generations)

    client.generations.delete(generation_id(created))
    with pytest.raises(lumaai.NotFoundError) as missing:
        client.generations.get(generation_id(created))
    assert missing.value.body == {"detail": "Generation not found"}
    with pytest.raises(lumaai.NotFoundError):
        client.generations.delete(generation_id(created))


def test_async_sdk_works_too(emulator_server: EmulatorServer) -> None:
    async def scenario() -> None:
        async with lumaai.AsyncLumaAI(auth_token=API_KEY, base_url=emulator_server.api) as client:
            created = await client.generations.create(model="ray-flash-2", prompt=PROMPT, **SMALL)
            assert (await client.generations.get(generation_id(created))).id == generation_id(created)
            assert (await client.ping.check()).message == "pong"
            assert (await client.credits.get()).credit_balance > 0
            await client.generations.delete(generation_id(created))

    run_async(scenario())


def test_generation_completes_with_an_asset(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    created = client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)
    seen = {created.state}

    def completed() -> lumaai.types.Generation | None:
        generation = client.generations.get(generation_id(created))
        seen.add(generation.state)
        return generation if generation.state == "completed" else None

    generation = wait_for(completed, timeout=20)
    assert {"queued", "dreaming", "completed"} <= seen | {"queued"}
    assert generation.assets is not None and generation.assets.video
    signature = emulator_server.emulator.asset_signature(generation_id(created))
    assert (
        generation.assets.video == f"{emulator_server.root}/assets/{generation_id(created)}/{signature}.mp4"
    )
    assert httpx.get(generation.assets.video).headers["content-type"] == "video/mp4"
    # The name is unguessable: the id alone, or a wrong signature, finds nothing.
    assert httpx.get(f"{emulator_server.root}/assets/{created.id}.mp4").status_code == 404
    assert httpx.get(f"{emulator_server.root}/assets/{created.id}/{'0' * 32}.mp4").status_code == 404


def test_older_create_route_and_request_echo(emulator_server: EmulatorServer) -> None:
    body = {
        "model": "ray-2",
        "prompt": PROMPT,
        "loop": True,
        "callback_url": "http://127.0.0.1:9/cb",
        **SMALL,
    }
    answer = httpx.post(
        emulator_server.api + "/generations",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )
    assert answer.status_code == 201
    generation = answer.json()
    assert generation["request"] == body
    assert set(generation) >= {
        "id",
        "generation_type",
        "state",
        "failure_reason",
        "created_at",
        "model",
        "assets",
        "request",
    }
    assert generation["created_at"].endswith("Z")


def test_ping_and_credits(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    assert client.ping.check().message == "pong"
    before = client.credits.get().credit_balance
    created = client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)
    # Charged at create: 540x540, 24 fps, 5 s at 0.64 cents per million pixels.
    assert client.credits.get().credit_balance == pytest.approx(before - 0.64 * 34.992, abs=0.01)
    client.generations.delete(generation_id(created))


def test_list_pages_newest_first(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    ids = [generation_id(client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)) for _ in range(3)]
    first = client.generations.list(limit=2, offset=0)
    second = client.generations.list(limit=2, offset=2)
    assert [generation.id for generation in first.generations] == ids[::-1][:2]
    assert first.has_more is True
    assert second.generations[0].id == ids[0]
    for each in ids:
        client.generations.delete(each)


def test_concepts_are_listed_taken_and_echoed(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    listed = client.generations.concepts.list()
    assert "static" in listed and all(isinstance(key, str) for key in listed)
    created = client.generations.create(model="ray-2", prompt=PROMPT, concepts=[{"key": "static"}], **SMALL)
    assert created.request is not None
    echoed = client.generations.get(generation_id(created)).request
    concepts = getattr(echoed, "concepts", None) or []  # only a video request has concepts
    assert [concept.key for concept in concepts] == ["static"]
    client.generations.delete(generation_id(created))


def test_list_without_limit_answers_lumas_default_of_100(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    ids = [generation_id(client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)) for _ in range(12)]
    answer = httpx.get(emulator_server.api + "/generations", headers={"Authorization": f"Bearer {API_KEY}"})
    assert answer.status_code == 200
    page = answer.json()
    assert page["limit"] == 100 and page["offset"] == 0
    assert set(ids) <= {generation["id"] for generation in page["generations"]}
    for made in ids:
        client.generations.delete(made)


@pytest.mark.parametrize("key", ["wrong", ""])
def test_bad_key_gets_lumas_401(emulator_server: EmulatorServer, key: str) -> None:
    with pytest.raises(lumaai.AuthenticationError) as refused:
        sdk(emulator_server, key or "x").generations.list()
    assert refused.value.body == {"detail": "Invalid API key is provided"}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    answer = httpx.get(emulator_server.api + "/ping", headers=headers)
    assert answer.status_code == 401
    assert answer.json() == {"detail": "Invalid API key is provided"}


def _create(server: EmulatorServer, body: Any) -> httpx.Response:
    return httpx.post(
        server.api + "/generations/video",
        json=body,
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"model": "ray-2"}, 400, "Prompt is required"),
        ({"model": "ray-2", "prompt": "ab"}, 400, "Prompt is too short, minimum length is 3 characters"),
        (
            {"model": "ray-2", "prompt": "x" * 5001},
            400,
            "Prompt is too long, maximum length is 5000 characters",
        ),
        (
            {
                "model": "ray-2",
                "prompt": "a cat",
                "loop": True,
                "keyframes": {
                    "frame0": {"type": "image", "url": "http://127.0.0.1:9/a.png"},
                    "frame1": {"type": "image", "url": "http://127.0.0.1:9/b.png"},
                },
            },
            400,
            "Loop is not supported for keyframes",
        ),
        ({"model": "ray-2", "prompt": "a cat", "keyframes": {}}, 400, "No keyframes provided"),
        ({"prompt": "a cat"}, 422, "model: Field required"),
        (
            {"model": "ray-9", "prompt": "a cat"},
            422,
            "model: Input should be 'ray-1-6', 'ray-2' or 'ray-flash-2'",
        ),
        (
            {"model": "ray-2", "prompt": "a cat", "resolution": "8k"},
            422,
            "resolution: Input should be '540p', '720p', '1080p' or '4k'",
        ),
        (
            {"model": "ray-2", "prompt": "a cat", "duration": "7s"},
            422,
            "duration: Input should be '5s' or '9s'",
        ),
        ({"model": "ray-2", "prompt": 5}, 422, "prompt: Input should be a valid string"),
        (
            {"model": "ray-2", "prompt": "a cat", "concepts": "static"},
            422,
            "concepts: Input should be a valid list",
        ),
        ({"model": "ray-2", "prompt": "a cat", "concepts": [{}]}, 422, "concepts.0.key: Field required"),
        (
            {"model": "ray-2", "prompt": "a cat", "concepts": [{"key": "static"}, "pan_left"]},
            422,
            "concepts.1: Input should be a valid dictionary or object",
        ),
        ([1, 2], 422, "body: Input should be a valid dictionary or object"),
    ],
)
def test_validation_errors_match_luma(
    emulator_server: EmulatorServer, body: Any, status: int, detail: str
) -> None:
    answer = _create(emulator_server, body)
    assert (answer.status_code, answer.json()) == (status, {"detail": detail})


def test_sdk_raises_lumas_error_classes(emulator_server: EmulatorServer) -> None:
    client = sdk(emulator_server)
    with pytest.raises(lumaai.BadRequestError) as short:
        client.generations.create(model="ray-2", prompt="ab")
    assert short.value.body == {"detail": "Prompt is too short, minimum length is 3 characters"}
    with pytest.raises(lumaai.UnprocessableEntityError):
        client.generations.create(model="ray-2", prompt="a cat", resolution="8k")


def test_image_keyframe_makes_prompt_optional(emulator_server: EmulatorServer) -> None:
    answer = _create(
        emulator_server,
        {
            "model": "ray-2",
            "keyframes": {"frame0": {"type": "image", "url": "http://127.0.0.1:9/a.png"}},
            **SMALL,
        },
    )
    assert answer.status_code == 201
    httpx.delete(
        f"{emulator_server.api}/generations/{answer.json()['id']}",
        headers={"Authorization": f"Bearer {API_KEY}"},
    )


def test_standalone_app_serves_lumas_paths_at_its_root(fresh_cache: Path) -> None:
    sock = bound_socket()
    root = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = EmulatorSettings(
        api_key=API_KEY, dream_seconds=0.3, cache_dir=fresh_cache, public_base_url=root
    )
    with (
        AsgiServer(create_emulator_app(settings), sock),
        lumaai.LumaAI(auth_token=API_KEY, base_url=root + "/dream-machine/v1") as client,
    ):
        created = client.generations.create(model="ray-2", prompt=PROMPT, **SMALL)

        def completed() -> lumaai.types.Generation | None:
            generation = client.generations.get(generation_id(created))
            return generation if generation.state == "completed" else None

        generation = wait_for(completed, timeout=20)
        assert generation.assets is not None
        assert generation.assets.video is not None
        assert generation.assets.video.startswith(f"{root}/assets/{generation_id(created)}/")
        assert httpx.get(generation.assets.video).status_code == 200
    assert (fresh_cache / "generations.json").exists()
