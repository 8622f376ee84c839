"""Delivering callbacks exactly as Luma does.

Luma POSTs the whole Generation object as JSON; only HTTP 200 counts as delivered (201 and
204 are failures too); a failed delivery is retried at most 3 times, 100 ms apart; each request
times out after 5 s. No signature, no redirects followed.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from .store import Counters

log = logging.getLogger(__name__)

RETRIES = 3
RETRY_PAUSE_SECONDS = 0.1
REQUEST_TIMEOUT_SECONDS = 5.0


class CallbackSender:
    def __init__(
        self,
        client: httpx.AsyncClient,
        counters: Counters,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,  # tests record the pauses
    ) -> None:
        self._client = client
        self._counters = counters
        self._sleep = sleep

    async def deliver(self, url: str, generation: dict[str, Any]) -> bool:
        """POST ``generation`` to ``url``; True once an attempt is answered 200."""
        for attempt in range(1 + RETRIES):
            if attempt:
                await self._sleep(RETRY_PAUSE_SECONDS)
            if await self._attempt(url, generation):
                self._counters.callbacks_delivered += 1
                return True
        self._counters.callbacks_failed += 1
        log.info("emulator: callback for %s not delivered", generation.get("id"))
        return False

    async def _attempt(self, url: str, generation: dict[str, Any]) -> bool:
        self._counters.callback_requests += 1
        try:
            response = await self._client.post(
                url, json=generation, timeout=REQUEST_TIMEOUT_SECONDS, follow_redirects=False
            )
        except httpx.HTTPError as error:
            log.debug("emulator: callback attempt failed: %s", type(error).__name__)
            return False
        return response.status_code == 200


class Notifier:
    """Sends a generation's callbacks in the background, in order, bending them to its faults.

    The state machine never waits for a delivery (a receiver that hangs must not hold a
    generation back), but the callbacks of one generation go out one after the other.
    """

    def __init__(self, sender: CallbackSender, counters: Counters, delay_seconds: float) -> None:
        self._sender = sender
        self._counters = counters
        self._delay_seconds = delay_seconds
        self._last_delivery: dict[str, asyncio.Task[None]] = {}
        self._held: dict[str, dict[str, Any]] = {}  # dreaming callbacks held by reorder
        self._tasks: set[asyncio.Task[None]] = set()

    def notify(self, generation: dict[str, Any], url: str | None, faults: dict[str, str]) -> None:
        if not url:
            return
        if "drop_callbacks" in faults:
            self._counters.callbacks_dropped += 1
            return
        snapshot = json_copy(generation)
        generation_id = str(generation["id"])
        if "reorder_callbacks" in faults:
            if snapshot["state"] == "dreaming":
                self._held[generation_id] = snapshot
                return
            payloads = [snapshot, *self._pop_held(generation_id)]
        else:
            payloads = [snapshot]
        copies = 2 if "duplicate_callbacks" in faults else 1
        delay = self._delay_seconds if "delay_callbacks" in faults else 0.0
        for payload in payloads:
            for _ in range(copies):
                self._schedule(generation_id, url, payload, delay)

    def _pop_held(self, generation_id: str) -> list[dict[str, Any]]:
        held = self._held.pop(generation_id, None)
        return [held] if held is not None else []

    def _schedule(self, generation_id: str, url: str, payload: dict[str, Any], delay: float) -> None:
        self._counters.callbacks_sent += 1
        previous = self._last_delivery.get(generation_id)
        task = asyncio.create_task(self._deliver_after(previous, url, payload, delay))
        self._last_delivery[generation_id] = task
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._forget(generation_id, done))

    async def _deliver_after(
        self,
        previous: asyncio.Task[None] | None,
        url: str,
        payload: dict[str, Any],
        delay: float,
    ) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        if delay:
            await asyncio.sleep(delay)
        await self._sender.deliver(url, payload)

    def _forget(self, generation_id: str, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last_delivery.get(generation_id) is task:
            del self._last_delivery[generation_id]

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))


def json_copy(value: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON object, so later changes never leak into a queued callback."""
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied
