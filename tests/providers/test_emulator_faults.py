"""Fault injection: each fault, by prompt directive, does what it says; _stats counts it."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import lumaai
import pytest

from pixelmotion.providers.emulator.faults import FaultInjector, parse_fault_spec, strip_directives

from .conftest import (
    API_KEY,
    PROMPT,
    SMALL,
    CallbackReceiver,
    EmulatorServer,
    generation_id,
    running_emulator,
    sdk,
    wait_for,
)


def create(server: EmulatorServer, fault: str | None, callback_url: str | None = None) -> Any:
    extra: dict[str, Any] = {"callback_url": callback_url} if callback_url else {}
    prompt = f"{PROMPT} [[fault:{fault}]]" if fault else PROMPT
    return sdk(server).generations.create(model="ray-2", prompt=prompt, **SMALL, **extra)


def finished(server: EmulatorServer, generation_id: str | None) -> Any:
    assert generation_id is not None
    client = sdk(server)

    def check() -> Any:
        generation = client.generations.get(generation_id)
        return generation if generation.state in ("completed", "failed") else None

    return wait_for(check, timeout=20)


def test_fault_spec_and_directives() -> None:
    assert parse_fault_spec("drop_callbacks=1.0, create_429=0.2") == {
        "drop_callbacks": 1.0,
        "create_429": 0.2,
    }
    with pytest.raises(ValueError):
        parse_fault_spec("melt_cpu=1")
    injector = FaultInjector("", prompt_directives=True)
    prompt = "a cat [[fault:create_429*2]] [[fault:fail_generation=Job failed]]"
    assert [injector.create_fault(prompt) for _ in range(3)] == ["create_429", "create_429", None]
    assert injector.generation_faults(prompt) == {"fail_generation": "Job failed"}
    assert strip_directives(prompt) == "a cat"
    always = FaultInjector("duplicate_callbacks=1.0,drop_callbacks=0")
    assert always.generation_faults("a cat") == {"duplicate_callbacks": ""}


def test_prompt_directives_do_nothing_unless_a_test_setting_enables_them(fresh_cache: Path) -> None:
    """Issue 17, finding 8: one user's ``[[fault:create_timeout]]`` must not hang the shared
    emulator for anyone; directives are honoured only with prompt_faults on."""
    injector = FaultInjector("")
    prompt = "a cat [[fault:create_timeout]] [[fault:fail_generation=Job failed]]"
    assert injector.create_fault(prompt) is None
    assert injector.generation_faults(prompt) == {}
    with running_emulator(fresh_cache, prompt_faults=False) as server:
        client = sdk(server)
        started = time.monotonic()
        created = client.generations.create(
            model="ray-2", prompt=f"{PROMPT} [[fault:create_timeout]]", **SMALL
        )
        assert time.monotonic() - started < 5  # answered, not hung
        assert server.stats()["faults"] == {}
        assert client.generations.get(generation_id(created)).state in ("queued", "dreaming", "completed")


def test_fail_generation_fails_with_a_luma_reason_and_refunds(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    client = sdk(emulator_server)
    balance = client.credits.get().credit_balance
    created = create(emulator_server, "fail_generation=Error dispatching job", receiver.url("fail"))
    generation = finished(emulator_server, created.id)
    assert (generation.state, generation.failure_reason) == ("failed", "Error dispatching job")
    assert generation.assets.video is None
    wait_for(lambda: receiver.delivered_states("fail") == ["dreaming", "failed"])
    assert receiver.received("fail")[-1].body["failure_reason"] == "Error dispatching job"
    assert client.credits.get().credit_balance == pytest.approx(balance)


def test_hold_keeps_a_generation_dreaming_until_released(emulator_server: EmulatorServer) -> None:
    name = f"held-{uuid.uuid4().hex[:8]}"
    held = create(emulator_server, f"hold={name}")
    later = create(emulator_server, None)  # made after it, with the same dream time
    assert finished(emulator_server, later.id).state == "completed"
    # Its dream time is over too, yet it waits for its release.
    assert sdk(emulator_server).generations.get(generation_id(held)).state == "dreaming"
    emulator_server.emulator.holds.release(name)
    assert finished(emulator_server, held.id).state == "completed"


def test_drop_callbacks_sends_nothing_but_still_completes(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    dropped = emulator_server.stats()["callbacks_dropped"]
    created = create(emulator_server, "drop_callbacks", receiver.url("drop"))
    assert finished(emulator_server, created.id).state == "completed"
    wait_for(lambda: emulator_server.stats()["callbacks_dropped"] == dropped + 2)
    assert receiver.received("drop") == []


def test_duplicate_callbacks_sends_each_twice(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    create(emulator_server, "duplicate_callbacks", receiver.url("dup"))
    wait_for(lambda: len(receiver.received("dup")) == 4, timeout=20)
    assert receiver.delivered_states("dup") == ["dreaming", "dreaming", "completed", "completed"]


def test_reorder_callbacks_sends_completed_before_dreaming(
    emulator_server: EmulatorServer, receiver: CallbackReceiver
) -> None:
    create(emulator_server, "reorder_callbacks", receiver.url("reorder"))
    wait_for(lambda: len(receiver.received("reorder")) == 2, timeout=20)
    assert receiver.delivered_states("reorder") == ["completed", "dreaming"]


def test_delay_callbacks_holds_them_back(fresh_cache: Path, receiver: CallbackReceiver) -> None:
    with running_emulator(fresh_cache, dream_seconds=0.3, callback_delay_seconds=1.0) as server:
        started = time.monotonic()
        create(server, "delay_callbacks", receiver.url("delay"))
        wait_for(lambda: receiver.received("delay"), timeout=20)
        assert receiver.received("delay")[0].at - started >= 1.0


def test_create_429_and_500_create_nothing(emulator_server: EmulatorServer) -> None:
    created = emulator_server.stats()["created"]
    body = {"model": "ray-2", "prompt": f"{PROMPT} [[fault:create_429]]"}
    headers = {"Authorization": f"Bearer {API_KEY}"}
    limited = httpx.post(emulator_server.api + "/generations/video", json=body, headers=headers)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    assert limited.json() == {"detail": "Rate limit exceeded"}
    body["prompt"] = f"{PROMPT} [[fault:create_500]]"
    broken = httpx.post(emulator_server.api + "/generations/video", json=body, headers=headers)
    assert broken.status_code == 500 and "detail" in broken.json()
    assert emulator_server.stats()["created"] == created


def test_create_timeout_bills_but_never_answers(emulator_server: EmulatorServer) -> None:
    created = emulator_server.stats()["created"]
    with pytest.raises(lumaai.APITimeoutError):
        sdk(emulator_server, timeout=0.5).generations.create(
            model="ray-2", prompt=f"{PROMPT} [[fault:create_timeout]]", **SMALL
        )
    assert emulator_server.stats()["created"] == created + 1


def completed_assets(server: EmulatorServer, *faults: str | None) -> list[str]:
    """Asset URLs of completed generations, one per fault (None: healthy), made in parallel."""
    created = [create(server, fault) for fault in faults]
    generations = [finished(server, generation.id) for generation in created]
    assert all(generation.state == "completed" for generation in generations)
    return [str(generation.assets.video) for generation in generations]


def completed_asset(server: EmulatorServer, fault: str | None) -> str:
    return completed_assets(server, fault)[0]


def test_truncated_and_corrupt_assets(emulator_server: EmulatorServer) -> None:
    healthy, truncated_url, corrupt_url = completed_assets(
        emulator_server, None, "truncated_asset", "corrupt_asset"
    )
    whole = httpx.get(healthy).content
    truncated = httpx.get(truncated_url)
    assert truncated.status_code == 200
    assert int(truncated.headers["content-length"]) == len(truncated.content) == len(whole) // 2
    corrupt = httpx.get(corrupt_url).content
    assert len(corrupt) == len(whole) and corrupt[:64] == whole[:64] and corrupt != whole


def test_wrong_content_type_is_an_html_page(emulator_server: EmulatorServer) -> None:
    answer = httpx.get(completed_asset(emulator_server, "wrong_content_type"))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.content.startswith(b"<html>")


def test_cut_asset_drops_the_connection_and_range_resumes(emulator_server: EmulatorServer) -> None:
    healthy, url = completed_assets(emulator_server, None, "cut_asset")
    whole = httpx.get(healthy).content
    received = bytearray()
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as answer:
        assert int(answer.headers["content-length"]) == len(whole)
        for chunk in answer.iter_bytes():
            received += chunk
    assert 0 < len(received) < len(whole)
    rest = httpx.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert rest.status_code == 206
    assert bytes(received) + rest.content == whole


def test_slow_asset_arrives_whole_but_slowly(emulator_server: EmulatorServer) -> None:
    url = completed_asset(emulator_server, "slow_asset")
    started = time.monotonic()
    part = httpx.get(url, headers={"Range": "bytes=0-65535"})
    assert part.status_code == 206 and len(part.content) == 65536
    assert time.monotonic() - started >= 0.15  # 16 KiB per 50 ms


def test_huge_asset_announces_more_than_any_cap(emulator_server: EmulatorServer) -> None:
    url = completed_asset(emulator_server, "huge_asset")
    with httpx.stream("GET", url) as answer:
        assert int(answer.headers["content-length"]) >= 10 * 1024**3
        received = 0
        for chunk in answer.iter_bytes():
            received += len(chunk)
            if received > 4 * 1024 * 1024:
                break
    assert received > 4 * 1024 * 1024


def test_faults_from_settings(fresh_cache: Path, receiver: CallbackReceiver) -> None:
    with running_emulator(fresh_cache, faults="drop_callbacks=1.0", dream_seconds=0.3) as server:
        generation = sdk(server).generations.create(
            model="ray-2", prompt=PROMPT, callback_url=receiver.url("settings"), **SMALL
        )
        assert finished(server, generation.id).state == "completed"
        stats = server.stats()
        assert stats["callbacks_dropped"] == 2 and stats["faults"] == {"drop_callbacks": 1}
    assert receiver.received("settings") == []


def test_stats_shape(emulator_server: EmulatorServer) -> None:
    stats = emulator_server.stats()
    assert {"created", "deleted", "callbacks_sent", "callbacks_dropped"} <= set(stats)
