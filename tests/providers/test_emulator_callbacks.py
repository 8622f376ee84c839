"""The emulator's callback delivery (``providers/emulator/callbacks.py``) over real HTTP: only
200 counts, a failed delivery is retried at most 3 times, 100 ms apart. The pauses are
recorded rather than slept, so the rule is checked exactly on any machine (the lifecycle test
checks on the wall clock that a retry never comes sooner)."""

from __future__ import annotations

import asyncio

import httpx

from pixelmotion.providers.emulator.callbacks import CallbackSender
from pixelmotion.providers.emulator.store import Counters

from .conftest import CallbackReceiver

GENERATION = {"id": "gen-1", "state": "completed"}


def deliver(receiver: CallbackReceiver, statuses: list[int]) -> tuple[bool, list[float], Counters]:
    pauses: list[float] = []

    async def record(seconds: float) -> None:
        pauses.append(seconds)

    async def send() -> bool:
        async with httpx.AsyncClient() as client:
            return await CallbackSender(client, counters, sleep=record).deliver(
                receiver.url("cb", statuses), GENERATION
            )

    counters = Counters()
    return asyncio.run(send()), pauses, counters


def test_three_retries_100_ms_apart_then_given_up(receiver: CallbackReceiver) -> None:
    delivered, pauses, counters = deliver(receiver, [204, 201, 500, 204])
    assert delivered is False
    assert [item.status for item in receiver.received("cb")] == [204, 201, 500, 204]
    assert pauses == [0.1, 0.1, 0.1]
    assert (counters.callback_requests, counters.callbacks_delivered, counters.callbacks_failed) == (4, 0, 1)


def test_a_200_on_the_last_retry_is_delivered(receiver: CallbackReceiver) -> None:
    delivered, pauses, counters = deliver(receiver, [204, 201, 500])
    assert delivered is True
    assert [item.status for item in receiver.received("cb")] == [204, 201, 500, 200]
    assert pauses == [0.1, 0.1, 0.1]
    assert (counters.callbacks_delivered, counters.callbacks_failed) == (1, 0)


def test_a_first_200_needs_no_pause(receiver: CallbackReceiver) -> None:
    delivered, pauses, _ = deliver(receiver, [])
    assert delivered is True and pauses == []
    assert [item.body for item in receiver.received("cb")] == [GENERATION]
