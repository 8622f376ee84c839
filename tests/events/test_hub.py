"""The in-process hub: who is woken, and that a wake-up is never lost to another's event."""

from __future__ import annotations

import asyncio

from pixelmotion.events import EventHub
from tests.server import run_async


def test_the_same_event_id_from_another_schema_does_not_swallow_ours() -> None:
    """NOTIFY channels span the database: a deployment in another schema sends event ids from
    its own sequence. Its event 7 must not make the hub ignore our event 7."""

    async def scenario() -> bool:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        ours = hub.subscribe(job_id="job-ours")
        hub.wake("job-elsewhere", "someone", 7)  # another schema's event 7
        hub.wake("job-ours", "alice", 7)  # ours
        return await ours.wait(1.0)

    assert run_async(scenario())


def test_a_repeated_wake_up_for_one_event_wakes_once_and_others_stay_asleep() -> None:
    async def scenario() -> tuple[bool, bool, bool]:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        job_stream, user_stream, other = (
            hub.subscribe(job_id="j1"),
            hub.subscribe(user_id="alice"),
            hub.subscribe(job_id="j2"),
        )
        hub.wake("j1", "alice", 3)
        first = await job_stream.wait(1.0) and await user_stream.wait(1.0)
        hub.wake("j1", "alice", 3)  # the same event again (NOTIFY after our own commit)
        again = await job_stream.wait(0.05)
        return first, again, await other.wait(0.05)

    assert run_async(scenario()) == (True, False, False)
