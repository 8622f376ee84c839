"""Fan-out of job events to the streams that wait for them, within one process.

The ``job_events`` table is the truth; the hub only wakes streams, which then read the
table after the last id they sent. So a wake-up that is lost or repeated costs nothing, and
events written by another process are found by ``watch_table`` within its poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable

logger = logging.getLogger(__name__)
WOKEN_KEPT = 16384  # event ids remembered as woken, so that their echoes are ignored


class Subscription:
    def __init__(self, hub: EventHub, keys: tuple[str, ...]) -> None:
        self._hub = hub
        self.keys = keys
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        """True when woken (the wake-up is then cleared), False on timeout.

        Decided by the flag, not by how ``wait_for`` ended: a wake-up landing while the
        timeout cancels the wait is kept and reported, never cleared unseen."""
        if not self._event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
        woken = self._event.is_set()
        self._event.clear()
        return woken

    def close(self) -> None:
        self._hub._remove(self)


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: dict[str, set[Subscription]] = defaultdict(set)
        # Events streams were already woken for: the same event coming back (this process's
        # commit, then its NOTIFY, then the table scan) wakes nobody again, which would cost
        # every stream following the job or user one more read of the table.
        # Keyed by (job id, event id), not the id alone: LISTEN/NOTIFY channels span the whole
        # database, so deployments in other schemas send ids from their own sequences.
        self._woken: dict[tuple[str, int], None] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self, *, job_id: str | None = None, user_id: str | None = None) -> Subscription:
        keys = tuple(
            k for k in (f"job:{job_id}" if job_id else "", f"user:{user_id}" if user_id else "") if k
        )
        subscription = Subscription(self, keys)
        for key in keys:
            self._subscribers[key].add(subscription)
        return subscription

    def _remove(self, subscription: Subscription) -> None:
        for key in subscription.keys:
            group = self._subscribers.get(key)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self._subscribers[key]

    @property
    def subscriber_count(self) -> int:
        return len({s for group in self._subscribers.values() for s in group})

    def publish(self, job_id: str, user_id: str, event_id: int) -> None:
        """Safe to call from any thread (the repository runs in worker threads)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        # A stream that subscribes after this look reads the table as it joins.
        if not self._subscribers:  # no stream to wake: no hop to the loop (a submission's cost)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake(job_id, user_id, event_id)
        else:
            with contextlib.suppress(RuntimeError):  # loop closing at shutdown
                loop.call_soon_threadsafe(self._wake, job_id, user_id, event_id)

    def wake_all(self) -> None:
        """Make every stream re-read the table (after a lost notification connection)."""
        for group in tuple(self._subscribers.values()):
            for subscription in tuple(group):
                subscription.wake()

    def wake(self, job_id: str, user_id: str, event_id: int) -> None:
        """Wake the streams following this job or user; call on the hub's own loop."""
        self._wake(job_id, user_id, event_id)

    def _wake(self, job_id: str, user_id: str, event_id: int) -> None:
        seen = (job_id, event_id)
        if seen in self._woken:
            return
        self._woken[seen] = None
        if len(self._woken) > WOKEN_KEPT:
            del self._woken[next(iter(self._woken))]
        for key in (f"job:{job_id}", f"user:{user_id}"):
            for subscription in tuple(self._subscribers.get(key, ())):
                subscription.wake()


async def watch_table(
    hub: EventHub,
    read_after: Callable[[int], list[tuple[str, str, int]]],
    last_id: Callable[[], int],
    interval: float = 0.2,
) -> None:
    """Wake streams for events other processes wrote (e.g. a separate worker on SQLite)."""
    seen = await asyncio.to_thread(last_id)
    while True:
        await asyncio.sleep(interval)
        idle = hub.subscriber_count == 0
        try:
            if idle:  # nobody to wake: only the newest id, not every event since the last tick
                newest = await asyncio.to_thread(last_id)
            else:
                rows = await asyncio.to_thread(read_after, seen)
        except Exception:  # a busy or restarting database: try again next tick
            logger.warning("event watcher could not read job_events", exc_info=True)
            continue
        if idle:
            # A stream that joined meanwhile is woken from ``seen`` on the next tick; one that
            # joins after this reads the table as it joins (``UserFanout.join``).
            if hub.subscriber_count == 0:
                seen = newest
            continue
        for job_id, user_id, event_id in rows:
            hub.wake(job_id, user_id, event_id)
        if rows:
            seen = rows[-1][2]  # the last in commit order, which need not be the largest id
