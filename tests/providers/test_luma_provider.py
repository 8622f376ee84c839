"""LumaProvider (the official SDK underneath) against the emulator: calls and error mapping."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from pixelmotion.providers.base import GenerationNotFound, GenerationRequest, ProviderError
from pixelmotion.providers.luma import LumaProvider
from tests.server import run_async

from .conftest import API_KEY, PROMPT, EmulatorServer, bound_socket

T = TypeVar("T")


def run(
    server_api: str,
    call: Callable[[LumaProvider], Awaitable[T]],
    *,
    key: str = API_KEY,
    timeout: float = 30.0,
) -> T:
    async def scenario() -> T:
        provider = LumaProvider(key, base_url=server_api, timeout=timeout)
        try:
            return await call(provider)
        finally:
            await provider.aclose()

    return run_async(scenario())


def request(prompt: str = PROMPT, **fields: Any) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, resolution="540p", aspect_ratio="1:1", **fields)


def test_create_get_list_delete(emulator_server: EmulatorServer) -> None:
    async def scenario(provider: LumaProvider) -> None:
        created = await provider.create(
            request(callback_url="http://127.0.0.1:9/cb", keyframe_url="http://127.0.0.1:9/k.png")
        )
        assert created.state == "queued"
        assert created.callback_url == "http://127.0.0.1:9/cb"
        assert created.raw["request"]["keyframes"] == {
            "frame0": {"type": "image", "url": "http://127.0.0.1:9/k.png"}
        }
        assert (await provider.get(created.id)).id == created.id
        recent = await provider.list_recent(limit=5)
        assert recent[0].id == created.id
        await provider.delete(created.id)
        with pytest.raises(GenerationNotFound):
            await provider.get(created.id)
        with pytest.raises(GenerationNotFound):
            await provider.delete(created.id)

    run(emulator_server.api, scenario)


def test_bad_key_is_an_auth_error_without_the_key(emulator_server: EmulatorServer) -> None:
    secret = "sk-very-secret-key"
    with pytest.raises(ProviderError) as refused:
        run(emulator_server.api, lambda provider: provider.create(request()), key=secret)
    error = refused.value
    assert (error.auth, error.retryable, error.status) == (True, False, 401)
    assert "Invalid API key is provided" in error.message
    assert secret not in str(error) and secret not in repr(error.args)


@pytest.mark.parametrize(
    ("prompt", "fields", "status", "detail"),
    [
        ("ab", {}, 400, "Prompt is too short, minimum length is 3 characters"),
        (PROMPT, {"resolution": "8k"}, 422, "resolution: Input should be"),
    ],
)
def test_rejections_are_final_with_lumas_detail(
    emulator_server: EmulatorServer, prompt: str, fields: dict[str, str], status: int, detail: str
) -> None:
    options: dict[str, Any] = {"resolution": "540p", **fields}
    bad = GenerationRequest(prompt=prompt, **options)
    with pytest.raises(ProviderError) as refused:
        run(emulator_server.api, lambda provider: provider.create(bad))
    error = refused.value
    assert (error.status, error.retryable, error.ambiguous, error.auth) == (status, False, False, False)
    assert detail in error.message


def test_rate_limit_is_retryable_with_retry_after(emulator_server: EmulatorServer) -> None:
    with pytest.raises(ProviderError) as limited:
        run(emulator_server.api, lambda p: p.create(request(f"{PROMPT} [[fault:create_429]]")))
    error = limited.value
    assert (error.status, error.retryable, error.ambiguous, error.retry_after) == (429, True, False, 1.0)


def test_server_error_is_retryable_and_not_retried_by_the_sdk(
    emulator_server: EmulatorServer,
) -> None:
    before = emulator_server.stats()["faults"].get("create_500", 0)
    with pytest.raises(ProviderError) as failed:
        run(emulator_server.api, lambda p: p.create(request(f"{PROMPT} [[fault:create_500]]")))
    assert (failed.value.status, failed.value.retryable) == (500, True)
    # One request reached the emulator: the SDK's own retries are off for create.
    assert emulator_server.stats()["faults"]["create_500"] == before + 1


def test_timeout_on_create_is_ambiguous_and_was_billed(emulator_server: EmulatorServer) -> None:
    prompt = f"{PROMPT} [[fault:create_timeout]]"
    created_before = emulator_server.stats()["created"]
    with pytest.raises(ProviderError) as timed_out:
        run(emulator_server.api, lambda p: p.create(request(prompt)), timeout=1.0)
    assert (timed_out.value.ambiguous, timed_out.value.retryable) == (True, True)
    assert emulator_server.stats()["created"] == created_before + 1

    async def find(provider: LumaProvider) -> list[str]:
        return [g.raw["request"].get("prompt") for g in await provider.list_recent(limit=10)]

    assert prompt in run(emulator_server.api, find)


def test_connection_refused_is_retryable_but_not_ambiguous() -> None:
    closed = bound_socket()  # bound, never listening: connections are refused
    url = f"http://127.0.0.1:{closed.getsockname()[1]}/dream-machine/v1"
    try:
        with pytest.raises(ProviderError) as refused:
            run(url, lambda provider: provider.create(request()), timeout=2.0)
    finally:
        closed.close()
    assert (refused.value.retryable, refused.value.ambiguous) == (True, False)


def test_provider_named_emulator_when_it_talks_to_the_emulator(
    emulator_server: EmulatorServer,
) -> None:
    async def scenario() -> str:
        provider = LumaProvider(API_KEY, base_url=emulator_server.api, name="emulator")
        try:
            assert provider.name == "emulator"
            return (await provider.create(request())).state
        finally:
            await provider.aclose()

    assert run_async(scenario()) == "queued"


def test_concepts_are_sent_as_lumas_key_objects() -> None:
    from pixelmotion.providers.base import GenerationRequest
    from pixelmotion.providers.luma import create_params

    params = create_params(GenerationRequest(prompt="a knight", concepts=("static",)))
    assert params["concepts"] == [{"key": "static"}]
    assert "concepts" not in create_params(GenerationRequest(prompt="a knight"))
