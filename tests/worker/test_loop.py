"""The claim loop through a database outage: a step that met it counts no attempt, the crash
handler never raises (it retries its release, then leaves the job to its lease), the lease
renewer keeps renewing and stops the step once another worker holds the job, the claim loop
backs off. The outage is a store whose calls raise what SQLAlchemy raises when PostgreSQL is
away (the real thing is tests/api/test_outages.py, on a stopped cluster)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import exc as sa_exc

from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.store.queue import Queue
from pixelmotion.worker import loop
from pixelmotion.worker.loop import Worker
from pixelmotion.worker.outages import CLAIM_BACKOFF_CAP, claim_backoff
from tests.worker.conftest import Bench


def database_away() -> sa_exc.OperationalError:
    return sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))


class AwayQueue:
    """The real queue, except the calls named in ``away`` raise the outage (``times`` each:
    None for ever) and ``renew_answers`` scripts renew_lease."""

    def __init__(self, real: Queue) -> None:
        self.real = real
        self.away: dict[str, int | None] = {}
        self.calls: dict[str, int] = {}
        self.renew_answers: list[bool | Exception] = []

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.calls[name] = self.calls.get(name, 0) + 1
        if name in self.away:
            left = self.away[name]
            if left is None or left > 0:
                if left is not None:
                    self.away[name] = left - 1
                raise database_away()
        return getattr(self.real, name)(*args, **kwargs)

    def release(self, *args: Any, **kwargs: Any) -> None:
        self._call("release", *args, **kwargs)

    def claim(self, *args: Any, **kwargs: Any) -> Job | None:
        result: Job | None = self._call("claim", *args, **kwargs)
        return result

    def renew_lease(self, *args: Any, **kwargs: Any) -> bool:
        self.calls["renew_lease"] = self.calls.get("renew_lease", 0) + 1
        if self.renew_answers:
            answer = self.renew_answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        return bool(self.real.renew_lease(*args, **kwargs))


@pytest.fixture
def away(bench: Bench, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Bench, AwayQueue]]:
    queue = AwayQueue(bench.store.queue)
    monkeypatch.setattr(bench.store, "queue", queue)
    settings = replace(bench.ports.settings, lease_seconds=0.6)
    yield replace(bench, ports=replace(bench.ports, settings=settings)), queue


def test_a_database_outage_in_a_step_counts_no_attempt(away: tuple[Bench, AwayQueue]) -> None:
    bench, queue = away
    job = bench.job()
    queue.away["release"] = 2  # the database is back after two tries, well within a lease
    ports = replace(bench.ports, settings=replace(bench.ports.settings, lease_seconds=10.0))
    asyncio.run(Worker(ports)._step_crashed(job, database_away()))
    again = bench.current(job)
    assert queue.calls["release"] == 3
    assert again.status is JobStatus.PENDING and again.attempts == 0
    assert again.next_run_at is not None and again.next_run_at > bench.clock()


def test_the_crash_handler_never_raises_while_the_database_stays_away(away: tuple[Bench, AwayQueue]) -> None:
    bench, queue = away
    job = bench.job()
    queue.away["release"] = None
    started = time.monotonic()
    asyncio.run(Worker(bench.ports)._step_crashed(job, database_away()))  # returns: no raise
    took = time.monotonic() - started
    assert queue.calls["release"] >= 2, "the release was tried again"
    assert took <= bench.ports.settings.lease_seconds + 0.5, "gave up after about a lease"
    assert bench.current(job).attempts == 0


def test_a_bug_still_counts_an_attempt(away: tuple[Bench, AwayQueue]) -> None:
    bench, _ = away
    job = bench.job()
    asyncio.run(Worker(bench.ports)._step_crashed(job, KeyError("a bug")))
    assert bench.current(job).attempts == 1


def test_the_lease_is_renewed_through_an_outage_and_a_lost_lease_stops_the_step(
    away: tuple[Bench, AwayQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench, queue = away
    stopped = asyncio.Event()

    async def endless_step(ports: Any, job: Job) -> None:
        try:
            await asyncio.sleep(60)
        finally:
            stopped.set()

    monkeypatch.setitem(loop.STEPS, JobStatus.PENDING, endless_step)
    # Two renewals meet the outage (the renewer keeps going), then one goes through, then
    # another worker holds the job: the step is stopped.
    queue.renew_answers = [database_away(), database_away(), True, False]
    job = bench.job()

    async def run() -> None:
        await asyncio.wait_for(Worker(bench.ports)._run_job(job), timeout=5)

    asyncio.run(run())  # returns: neither hangs nor raises
    assert stopped.is_set() and queue.calls["renew_lease"] == 4


def test_a_step_starved_past_its_lease_is_not_started_again_by_its_own_worker(
    away: tuple[Bench, AwayQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease ran out while the step still runs (a starved process): the next claim takes
    the job again under the same owner. That renews the lease; it must not start a second
    run of the step beside the first."""
    bench, queue = away
    runs: list[str] = []
    finish = asyncio.Event()

    async def long_step(ports: Any, job: Job) -> None:
        runs.append(job.id)
        await finish.wait()

    monkeypatch.setitem(loop.STEPS, JobStatus.PENDING, long_step)
    job = bench.job()

    async def scenario() -> None:
        worker = Worker(bench.ports)
        task = asyncio.create_task(worker.run())
        while not runs:
            await asyncio.sleep(0.01)
        claims = queue.calls["claim"]
        bench.clock.advance(60)  # far past the lease: the job is due and free again
        worker.nudge()
        while queue.calls["claim"] < claims + 3:
            await asyncio.sleep(0.01)
        finish.set()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
    assert runs == [job.id]


def test_the_claim_loop_backs_off_while_the_database_is_away(away: tuple[Bench, AwayQueue]) -> None:
    bench, queue = away
    queue.away["claim"] = None

    async def run_for(seconds: float) -> None:
        worker = Worker(bench.ports)
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(seconds)
        assert not task.done(), "the loop survives failed claims"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run_for(1.0))
    # Backing off (0.25 s, 0.5 s, 1 s ... halved by jitter at most), not spinning.
    assert 2 <= queue.calls["claim"] <= 8


def test_claim_backoff_grows_to_its_cap() -> None:
    firsts = [claim_backoff(1) for _ in range(50)]
    lasts = [claim_backoff(30) for _ in range(50)]
    assert max(firsts) <= 0.25 and min(lasts) >= CLAIM_BACKOFF_CAP / 2
    assert max(lasts) <= CLAIM_BACKOFF_CAP
