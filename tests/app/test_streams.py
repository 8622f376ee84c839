"""Issue 17, finding 5: one user held 3,000 event streams, each reading the table on every
wake-up, and everyone's requests slowed. Now a user's streams are capped (429 past it) and
share one read per wake-up. Real HTTP on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from pixelmotion.app.events import EVENTS_PAGE, Changes
from pixelmotion.app.streams import UserStreams
from pixelmotion.events import EventHub
from pixelmotion.jobs.models import JobEvent
from pixelmotion.jobs.states import JobStatus
from pixelmotion.store import utcnow
from tests.running import Running, start
from tests.server import wait_for
from tests.sse import Event, read_events

REQUEST = {"prompt": "a green frog hopping", "width": 32, "height": 32, "colorCount": 8, "fps": 12}
CAP = 3


STREAMS = 12


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[Running]:
    yield from start(tmp_path, database_url)


@pytest.fixture
def capped(tmp_path: Path, database_url: str) -> Iterator[Running]:
    yield from start(tmp_path, database_url, max_streams_per_user=str(CAP))


def open_stream(stack: ExitStack, client: httpx.Client) -> httpx.Response:
    return stack.enter_context(client.stream("GET", "/v1/events", timeout=60))


def statuses_until_completed(response: httpx.Response, job_id: str) -> list[Event]:
    events: list[Event] = []
    for item in read_events(response):
        if isinstance(item, Event) and item.data["jobId"] == job_id:
            events.append(item)
            if item.data["status"] in ("completed", "failed"):
                return events
    raise AssertionError("the stream ended before the job did")


def test_streams_past_the_cap_are_refused_and_closing_one_frees_a_seat(capped: Running) -> None:
    with capped.client("alice") as alice, capped.client("bob") as bob, ExitStack() as stack:
        streams = [open_stream(stack, alice) for _ in range(CAP)]
        assert [s.status_code for s in streams] == [200] * CAP
        with alice.stream("GET", "/v1/events") as refused:
            refused.read()
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "TOO_MANY_STREAMS"
            assert int(refused.headers["Retry-After"]) > 0
        with alice.stream("GET", f"/v1/jobs/{uuid.uuid4()}/events") as job_stream:
            job_stream.read()
            assert job_stream.status_code in (404, 429)  # no seat is taken for an unknown job
        with bob.stream("GET", "/v1/events") as other_user:
            assert other_user.status_code == 200  # the cap is per user

        job_id = alice.post("/v1/jobs", json=REQUEST).json()["jobId"]
        for stream in streams:  # every admitted stream works
            assert statuses_until_completed(stream, job_id)[-1].data["status"] == "completed"

        streams[0].close()

        def reopened() -> bool:
            with alice.stream("GET", "/v1/events") as again:
                again.read() if again.status_code != 200 else None
                return again.status_code == 200

        assert wait_for(reopened, timeout=10, what="a closed stream's seat to be free", interval=0.05)


def test_a_users_streams_share_one_read_per_wake_up(site: Running) -> None:
    reader = f"reader-{uuid.uuid4().hex[:8]}"  # no other test's events wake this user
    # A read is a statement at a position: on PostgreSQL one read may run its statement again
    # while an older transaction elsewhere in the database holds the snapshot's xmin back
    # (``Events._settled_after``), with the same parameters; that is still one read.
    reads: set[tuple[str, str]] = set()

    def count(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        # A stream's read of events: after an id, of one job or one user (the table watcher
        # reads every user's, unfiltered, and is not a stream's).
        # After an id (SQLite), or after a (txid, id) position (PostgreSQL, store/events.py).
        after_an_id = "FROM job_events" in statement and (
            "job_events.id >" in statement or "job_events.txid, job_events.id) >" in statement
        )
        if after_an_id and ("job_events.user_id =" in statement or "job_events.job_id =" in statement):
            reads.add((statement, repr(parameters)))

    with site.client(reader) as client, ExitStack() as stack:
        streams = [open_stream(stack, client) for _ in range(STREAMS)]
        assert all(s.status_code == 200 for s in streams)
        wait_for(lambda: site.services.streams.joined(reader) == STREAMS, timeout=10, what="streams joined")
        event.listen(site.services.engine, "before_cursor_execute", count)
        try:
            job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
            seen = [statuses_until_completed(stream, job_id) for stream in streams]
        finally:
            event.remove(site.services.engine, "before_cursor_execute", count)

    assert seen[0][-1].data["status"] == "completed"
    assert all([e.id for e in got] == [e.id for e in seen[0]] for got in seen)
    # Each event wakes the fan-out at most once, and each wake-up is one read for all 12
    # streams (a stream of its own would read 12 times). Up to two more may be the joins'
    # own reads still finishing (on PostgreSQL other schemas' notifications advance the hub's
    # last id, so a join may read once to be sure it missed nothing).
    assert 0 < len(reads) <= len(seen[0]) + 2, f"{len(reads)} reads for {len(seen[0])} events"
    assert len(seen[0]) >= 3


def job_event(event_id: int, job_id: str) -> JobEvent:
    return JobEvent(event_id, job_id, "carol", JobStatus.DREAMING, event_id, None, utcnow())


def test_the_fan_out_hands_each_stream_its_part_and_a_stream_that_fell_behind_catches_up() -> None:
    """In memory: the table is a list, the read a function over it."""
    table: list[JobEvent] = []
    cursors: list[int] = []

    def read(after: int) -> Changes:
        cursors.append(after)
        return Changes([e for e in table if e.id > after][:EVENTS_PAGE], {}, 0)

    async def scenario() -> None:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        streams = UserStreams(hub, cap=None)
        seats = [streams.take_seat("carol") for _ in range(3)]
        job_a = seats[0].join(read, 0, job_id="a")
        everything = seats[1].join(read, 0)
        late = seats[2].join(read, 2)
        table.extend(job_event(i, "a" if i % 2 else "b") for i in range(1, 5))
        hub.wake("a", "carol", 4)
        assert [d.event.id for d in await job_a.next(5) or []] == [1, 3]
        assert [d.event.id for d in await everything.next(5) or []] == [1, 2, 3, 4]
        assert [d.event.id for d in await late.next(5) or []] == [3, 4]
        assert cursors == [0], "one read for the three streams, after the smallest cursor"
        # A stream that does not take what waits: past two pages it drops them and is left
        # out of the shared reads; once it asks again, it reads on from where it stopped.
        table.extend(job_event(i, "b") for i in range(5, 5 + 3 * EVENTS_PAGE))
        hub.wake("b", "carol", table[-1].id)
        while len(cursors) < 5:  # three full pages, then the read finding nothing more
            await late.next(0.2)
        assert everything.behind and everything.cursor == 4
        got = [d.event.id for _ in range(8) for d in await everything.next(0.5) or []]
        assert got == [e.id for e in table[4:]]
        assert [d.event.id for d in await job_a.next(0.01) or []] == []
        for seat, member in zip(seats, (job_a, everything, late), strict=True):
            member.leave()
            seat.close()
        assert streams.total() == 0 and streams.joined("carol") == 0

    asyncio.run(scenario())


def test_streams_follow_commit_order_where_it_is_not_id_order() -> None:
    """On PostgreSQL a smaller id can commit after a larger one (store/events.py): the read
    returns events in commit order, and a stream takes every event after its cursor's place
    in that order, whatever its id. Here event 2 commits after 3."""
    committed: list[JobEvent] = []
    cursors: list[int] = []

    def read(after: int) -> Changes:
        cursors.append(after)
        ids = [e.id for e in committed]
        start = ids.index(after) + 1 if after else 0
        return Changes(committed[start:][:EVENTS_PAGE], {}, 0)

    async def scenario() -> None:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        streams = UserStreams(hub, cap=None)
        first = streams.take_seat("carol").join(read, 0)
        committed.extend([job_event(1, "a"), job_event(3, "b")])
        hub.wake("b", "carol", 3)
        assert [d.event.id for d in await first.next(5) or []] == [1, 3]
        committed.append(job_event(2, "a"))
        hub.wake("a", "carol", 2)
        assert [d.event.id for d in await first.next(5) or []] == [2]
        # A stream resuming after event 1 reads with the first (its id is the smaller) and
        # takes 3 then 2; the first finds its cursor (2) in that read and takes what follows.
        resumed = streams.take_seat("carol").join(read, 1)
        assert [d.event.id for d in await resumed.next(5) or []] == [3, 2]
        committed.append(job_event(4, "b"))
        hub.wake("b", "carol", 4)
        assert [d.event.id for d in await first.next(5) or []] == [4]
        assert [d.event.id for d in await resumed.next(5) or []] == [4]
        assert cursors[-1] == 2, "both streams at event 2 share one read"

    asyncio.run(scenario())
