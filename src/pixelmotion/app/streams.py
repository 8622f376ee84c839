"""Event streams per user: a cap on how many one user holds, and one table read per wake-up
for all of a user's streams (issue 17, finding 5).

Each user with open streams has one ``UserFanout``: a single hub subscription and a single
task that, when woken, reads the user's events after the smallest cursor among the user's
streams, once, and hands each stream the part it has not seen (its job's events, or all of
them). 3,000 streams of one user then cost one query per wake-up, not 3,000.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from pixelmotion.app.errors import LimitReached
from pixelmotion.app.events import EVENTS_PAGE, Changes
from pixelmotion.events import EventHub
from pixelmotion.events.hub import Subscription
from pixelmotion.jobs.models import Job, JobEvent

STREAM_RETRY_SECONDS = 30  # Retry-After of a refused stream: another may have closed by then
Read = Callable[[int], Changes]  # the user's events after an id, with their jobs (blocking)


@dataclass(frozen=True)
class Delivery:
    event: JobEvent
    job: Job | None  # the event's job as it is now
    estimate: int


class Member:
    """One open stream in its user's fan-out: what it has been handed, what waits for it.

    Its cursor is the id of the last of the user's events it has seen, in commit order, which
    on PostgreSQL is not id order (store/events.py): so it is compared to nothing, only looked
    for among the events a read returns."""

    def __init__(self, fanout: UserFanout, cursor: int, job_id: str | None) -> None:
        self.fanout = fanout
        self.cursor = cursor  # every event of ours up to here is handed to the stream or waiting
        self.handed = cursor  # every event of ours up to here is handed to the stream
        self.job_id = job_id
        self._waiting: list[Delivery] = []
        self._error: BaseException | None = None
        self._ready = asyncio.Event()
        self.behind = False  # dropped what waited; not read for until it asks again

    def deliver(self, changes: Changes, events: list[JobEvent]) -> None:
        """``events``: those of ``changes`` after this member's cursor, in commit order."""
        if not events:
            return
        for event in events:
            if self.job_id in (None, event.job_id):
                self._waiting.append(Delivery(event, changes.jobs.get(event.job_id), changes.estimate))
        self.cursor = events[-1].id
        if len(self._waiting) > 2 * EVENTS_PAGE:
            # A stream that does not keep up (a slow client) holds no more than this: it
            # drops what waits, leaves the shared reads, and rejoins them from where it
            # stopped once it asks for more.
            self.cursor = self.handed
            self._waiting.clear()
            self.behind = True
        elif self._waiting:
            self._ready.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._ready.set()

    async def next(self, timeout: float) -> list[Delivery] | None:
        """What waits for this stream, in commit order; None when nothing came within
        ``timeout`` (time for a keep-alive). Raises what the shared read raised."""
        if self.behind:
            self.behind = False
            self.fanout.kick()
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        taken, self._waiting = self._waiting, []
        self.handed = self.cursor
        return taken or None

    def leave(self) -> None:
        self.fanout.leave(self)


class UserFanout:
    def __init__(self, hub: EventHub, user_id: str, read: Read, on_empty: Callable[[], None]) -> None:
        self._hub = hub
        self._read = read
        self._on_empty = on_empty
        self.members: set[Member] = set()
        self._subscription: Subscription = hub.subscribe(user_id=user_id)
        self._task = asyncio.get_running_loop().create_task(self._run())

    def join(self, cursor: int, job_id: str | None) -> Member:
        member = Member(self, cursor, job_id)
        self.members.add(member)
        # Whatever came after the stream's snapshot (or its Last-Event-ID) but before it
        # joined is read now; what comes after wakes this fan-out. Always: on PostgreSQL an
        # event committed after the snapshot may have a smaller id than the snapshot's last,
        # so no id tells whether one was missed. Joins in a burst share the read.
        self.kick()
        return member

    def kick(self) -> None:
        self._subscription.wake()

    def leave(self, member: Member) -> None:
        self.members.discard(member)
        if not self.members:
            self._task.cancel()
            self._subscription.close()
            self._on_empty()

    async def _run(self) -> None:
        while True:
            await self._subscription.wait(3600)
            while following := [member for member in self.members if not member.behind]:
                try:
                    more = await self._read_for(following)
                except Exception as error:  # each stream ends (or recovers) as its own read would
                    for member in following:
                        member.fail(error)
                    break
                if not more:
                    break

    async def _read_for(self, members: list[Member]) -> bool:
        """One read after the smallest cursor, for every member whose cursor is in what it
        returned (or is that cursor); the others (earlier in commit order than the smallest
        id, or past the page) read on their own. Members that took the same reads share a
        cursor, so a wake-up is one read. True if a page came back full (more to read)."""
        cursor = min(member.cursor for member in members)
        changes = await asyncio.to_thread(self._read, cursor)
        place = {event.id: index for index, event in enumerate(changes.events)}
        apart: dict[int, list[Member]] = {}
        for member in members:
            if member.cursor == cursor:
                member.deliver(changes, changes.events)
            elif member.cursor in place:
                member.deliver(changes, changes.events[place[member.cursor] + 1 :])
            else:
                apart.setdefault(member.cursor, []).append(member)
        more = len(changes.events) >= EVENTS_PAGE
        for own_cursor, group in apart.items():
            own = await asyncio.to_thread(self._read, own_cursor)
            for member in group:
                member.deliver(own, own.events)
            more = more or len(own.events) >= EVENTS_PAGE
        return more


class Seat:
    """A place among a user's streams, taken before the stream's answer starts. Freed by
    ``close`` or, should the stream never start, when the seat is dropped."""

    def __init__(self, streams: UserStreams, user_id: str) -> None:
        self.user_id = user_id
        self._streams = streams
        self._free = weakref.finalize(self, streams.free, user_id)

    def join(self, read: Read, cursor: int, *, job_id: str | None = None) -> Member:
        """Follow the user's events after the event ``cursor`` (a snapshot's or a
        Last-Event-ID)."""
        return self._streams.fanout(self.user_id, read).join(cursor, job_id)

    def close(self) -> None:
        self._free()


class UserStreams:
    """The open streams of each user in this process, and their fan-outs."""

    def __init__(self, hub: EventHub, cap: int | None) -> None:
        self._hub = hub
        self._cap = cap
        self._open: dict[str, int] = {}
        self._fanouts: dict[str, UserFanout] = {}

    def take_seat(self, user_id: str) -> Seat:
        count = self._open.get(user_id, 0)
        if self._cap is not None and count >= self._cap:
            raise LimitReached(
                "TOO_MANY_STREAMS",
                f"You already have {count} event streams open; close one, or follow every job "
                "with one GET /v1/events.",
                STREAM_RETRY_SECONDS,
            )
        self._open[user_id] = count + 1
        return Seat(self, user_id)

    def free(self, user_id: str) -> None:
        count = self._open.get(user_id, 0) - 1
        if count > 0:
            self._open[user_id] = count
        else:
            self._open.pop(user_id, None)

    def joined(self, user_id: str) -> int:
        """The user's streams following live events (past their snapshot)."""
        fanout = self._fanouts.get(user_id)
        return len(fanout.members) if fanout else 0

    def total(self) -> int:
        """Open streams of every user (the ``pixelmotion_sse_streams_open`` metric)."""
        return sum(self._open.values())

    def fanout(self, user_id: str, read: Read) -> UserFanout:
        fanout = self._fanouts.get(user_id)
        if fanout is None:
            fanout = UserFanout(self._hub, user_id, read, lambda: self._forget(user_id))
            self._fanouts[user_id] = fanout
        return fanout

    def _forget(self, user_id: str) -> None:
        self._fanouts.pop(user_id, None)
