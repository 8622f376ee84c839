"""The emulator's outbound requests pass the address guard (issue 17, finding 2): a create
naming an internal callback URL or keyframe URL reaches neither."""

from __future__ import annotations

from pathlib import Path

import lumaai

from .conftest import (
    API_KEY,
    PROMPT,
    SMALL,
    CallbackReceiver,
    generation_id,
    running_emulator,
    wait_for,
)


def test_internal_callback_and_keyframe_urls_are_never_fetched(
    fresh_cache: Path, receiver: CallbackReceiver
) -> None:
    receiver.files["/secret.png"] = ("image/png", b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    # No outbound host allowed: the receiver on loopback stands for an internal service.
    with running_emulator(fresh_cache, outbound_hosts=frozenset()) as server:
        client = lumaai.LumaAI(auth_token=API_KEY, base_url=server.api, max_retries=0, timeout=10)
        plain = client.generations.create(
            model="ray-2", prompt=PROMPT, callback_url=receiver.url("internal"), **SMALL
        )
        keyframed = client.generations.create(
            model="ray-2",
            prompt=f"{PROMPT} from a keyframe",
            keyframes={"frame0": {"type": "image", "url": f"{receiver.base_url}/secret.png"}},
            **SMALL,
        )

        def settled(created: object, state: str) -> lumaai.types.Generation:
            def reached() -> lumaai.types.Generation | None:
                generation = client.generations.get(generation_id(created))
                return generation if generation.state == state else None

            found: lumaai.types.Generation = wait_for(reached, timeout=20)
            return found

        done = settled(plain, "completed")
        failed = settled(keyframed, "failed")
        stats = server.stats()
    assert done.state == "completed"
    assert failed.failure_reason == "Failed to read user input frames"
    assert receiver.deliveries == []  # no callback POST reached the internal address
    assert stats["callbacks_delivered"] == 0 and stats["callbacks_failed"] >= 1


def test_an_allowed_host_is_reached(fresh_cache: Path, receiver: CallbackReceiver) -> None:
    with running_emulator(
        fresh_cache, outbound_hosts=frozenset({receiver.base_url.split("//")[1]})
    ) as server:
        client = lumaai.LumaAI(auth_token=API_KEY, base_url=server.api, max_retries=0, timeout=10)
        client.generations.create(model="ray-2", prompt=PROMPT, callback_url=receiver.url("ok"), **SMALL)
        wait_for(lambda: receiver.delivered_states("ok") == ["dreaming", "completed"], timeout=20)
