"""Scaled out for real (issue #6): two ``serve --no-worker`` API processes, two ``worker``
processes and the standalone Luma emulator, each its own OS process, on the real PostgreSQL.

200 small jobs from four users go through both APIs; an SSE client follows one user on
each API. A third of the way through, one worker and one API process are killed with
SIGKILL. Afterwards every job has completed exactly once (one generation, one processing
run; a second run only for a job the dead worker held, and only after its lease ran out),
and each SSE client saw every event of its user's jobs, in order; the one whose API died
reconnected to the other with Last-Event-ID and missed nothing.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pixelmotion.config import load_settings
from pixelmotion.jobs.states import ALLOWED_SOURCES, JobStatus
from pixelmotion.security import issue_token
from pixelmotion.store import Store, create_engine
from pixelmotion.store.rows import utcnow
from pixelmotion.store.tables import job_events, video_generation_jobs
from tests.databases import postgres_schema_url
from tests.processes import alive, children_of, env_for, running, wait_healthy
from tests.reliability.conftest import DOWNLOADING, PROMPT, emulator_get, generations
from tests.server import free_port, wait_for, wait_while_progressing
from tests.sse import Event, read_events

JOBS = 200
USERS = ("ada", "bob", "cyd", "dee")
JOBS_PER_USER = JOBS // len(USERS)
# Submitted before the kill; the rest are sent while it happens.
FIRST_WAVE = JOBS * 2 // 3
# The kill comes once this many jobs have completed, and a few of the second wave are in.
KILL_AFTER_COMPLETED = JOBS // 3
KILL_AFTER_SECOND_WAVE = 8
# The smallest job the API takes: 8×8, 2 colours, 12 fps, 5 s, 540p. One prompt for all, so
# the emulator renders one clip (kept in CLIP_CACHE, shared with the reliability tests).
REQUEST: dict[str, Any] = {
    "prompt": PROMPT,
    "width": 8,
    "height": 8,
    "colorCount": 2,
    "fps": 12,
    "duration": 5,
    "resolution": "540p",
}
LUMA_KEY = "luma-test-key-for-the-emulator"
LEASE_SECONDS = 6.0
SETTINGS = {
    # The provider is "luma" (a key is set): the Luma SDK, against the standalone emulator.
    "LUMA_API_KEY": LUMA_KEY,
    # Luma's in-flight cap (10) holds across all four processes, against an emulator that
    # answers 429 past it; 20 creates a minute would stretch 200 jobs over ten minutes.
    "PROVIDER_MAX_IN_FLIGHT": "10",
    "PROVIDER_CREATES_PER_MINUTE": "off",
    "USER_MAX_ACTIVE_JOBS": str(JOBS),
    "USER_JOBS_PER_HOUR": str(JOBS),
    "LEASE_SECONDS": str(LEASE_SECONDS),
    # Callbacks sent to the dead API are lost: the job is asked about after this grace.
    "CALLBACK_GRACE_SECONDS": "5",
    # A create the dead worker may have sent is looked for, for 3 × this, before another.
    "PROVIDER_TIMEOUT_SECONDS": "5",
    "WORKER_CONCURRENCY": "6",
}
EMULATOR_SETTINGS = {
    "EMULATOR_API_KEY": LUMA_KEY,
    "EMULATOR_DREAM_SECONDS": "1",
    "EMULATOR_MAX_IN_FLIGHT": "10",
    # It calls back both APIs, on loopback ports of their own.
    "EMULATOR_ALLOWED_HOSTS": "127.0.0.1",
}
JOBS_TIMEOUT = 150.0
# After the kill, how long no job may end before the run counts as stuck: the longest lawful
# pause is a dead worker's lease (6 s), then a create it may have sent looked for (3 × 5 s),
# then a callback lost with the dead API asked about (5 s). The total time is the machine's.
STALL_SECONDS = 60.0


@dataclass
class UserStream:
    """A browser's EventSource on ``/v1/events`` in a thread: it reconnects on any error to
    the next URL in ``urls`` with the last event id it saw, and stops once every one of the
    user's jobs has completed."""

    user: str
    urls: list[str]
    token: str
    events: list[Event] = field(default_factory=list)
    # (url, Last-Event-ID sent) of each connection the server answered with 200.
    connections: list[tuple[str, int]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name=f"sse-{self.user}", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        completed: set[str] = set()
        for url in itertools.cycle(self.urls):
            # 0 on the first connection too: the schema is new, so "after event 0" is every
            # event of the user, with no snapshot racing the first jobs.
            last = self.events[-1].id if self.events else 0
            headers = {"Authorization": f"Bearer {self.token}", "Last-Event-ID": str(last)}
            try:
                with httpx.stream(
                    "GET", f"{url}/v1/events", headers=headers, timeout=httpx.Timeout(5.0, read=30.0)
                ) as response:
                    if response.status_code != 200:
                        self.errors.append(f"{url}: HTTP {response.status_code}")
                    else:
                        self.connections.append((url, last))
                        for item in read_events(response):
                            if self.stop.is_set():
                                return
                            if not isinstance(item, Event):
                                continue
                            self.events.append(item)
                            if item.data["status"] == "completed":
                                completed.add(item.data["jobId"])
                                if len(completed) == JOBS_PER_USER:
                                    self.done.set()
                                    return
            except httpx.HTTPError as error:
                self.errors.append(f"{url}: {type(error).__name__}")
            if self.stop.wait(0.1):  # EventSource's reconnection delay, shortened
                return


class Submitter:
    """Creates jobs with an Idempotency-Key, first at one API and, if that one cannot be
    reached or dies mid-request, at the other: the key makes the retry the same job."""

    def __init__(self, urls: list[str], tokens: dict[str, str]) -> None:
        self.urls = urls
        self.tokens = tokens
        self.accepted_by: Counter[str] = Counter()
        self.replayed = 0
        self.failovers = 0
        self._lock = threading.Lock()

    def submit(self, user: str, index: int) -> str:
        headers = {"Authorization": f"Bearer {self.tokens[user]}", "Idempotency-Key": f"{user}-{index}"}
        first = (index + USERS.index(user)) % len(self.urls)
        order = self.urls[first:] + self.urls[:first]
        deadline = time.monotonic() + 30
        for url in itertools.cycle(order):
            assert time.monotonic() < deadline, f"job {user}-{index} was never accepted"
            try:
                response = httpx.post(f"{url}/v1/jobs", json=REQUEST, headers=headers, timeout=10)
            except httpx.TransportError:
                with self._lock:
                    self.failovers += 1
                continue
            assert response.status_code == 202, response.text
            with self._lock:
                self.accepted_by[url] += 1
                self.replayed += response.headers.get("Idempotent-Replayed") == "true"
            job_id: str = response.json()["jobId"]
            return job_id
        raise AssertionError("unreachable")

    def accepted(self) -> int:
        with self._lock:
            return sum(self.accepted_by.values())


class Database:
    """What the test reads straight from the shared schema."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self.repository = Store(self.engine)

    def count(self, status: str) -> int:
        jobs = video_generation_jobs
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(jobs.c.status == status)
            return int(conn.execute(query).scalar_one())

    def jobs(self) -> dict[str, dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(video_generation_jobs)).mappings().all()
        return {str(row["id"]): dict(row) for row in rows}

    def leases_of(self, pid: int) -> dict[str, tuple[str, datetime]]:
        """Jobs a worker process holds: job id → (status, lease_until)."""
        jobs = video_generation_jobs
        query = sa.select(jobs.c.id, jobs.c.status, jobs.c.lease_until).where(
            jobs.c.lease_owner.like(f"%:{pid}:%")
        )
        with self.engine.connect() as conn:
            return {str(i): (status, until) for i, status, until in conn.execute(query)}

    def events(self) -> list[Any]:
        return self.repository.events.after(limit=100 * JOBS)

    def downloads(self) -> dict[str, list[datetime]]:
        """When each job's processing runs began (their "Downloading clip..." events)."""
        query = (
            sa.select(job_events.c.job_id, job_events.c.created_at)
            .where(job_events.c.message == DOWNLOADING)
            .order_by(job_events.c.id)
        )
        runs: dict[str, list[datetime]] = defaultdict(list)
        with self.engine.connect() as conn:
            for job_id, created_at in conn.execute(query):
                runs[str(job_id)].append(created_at)
        return runs


@contextlib.contextmanager
def emulator_process(tmp_path: Path) -> Iterator[str]:
    """``pixelmotion emulator`` alone on a free port; yields its Luma base URL."""
    port = free_port()
    env = env_for(tmp_path / "emulator", port, **EMULATOR_SETTINGS)
    log = tmp_path / "emulator.log"
    base = f"http://127.0.0.1:{port}/dream-machine/v1"
    with running(["emulator", "--port", str(port)], env, log) as process:

        def up() -> bool:
            assert process.poll() is None, log.read_text()
            try:
                ping = httpx.get(f"{base}/ping", headers={"Authorization": f"Bearer {LUMA_KEY}"}, timeout=2)
            except httpx.HTTPError:
                return False
            return ping.status_code == 200

        wait_for(up, timeout=60, what="the emulator", interval=0.1)
        yield base


def legal_order(statuses: list[str]) -> bool:
    """pending first, completed last, each change one the state machine allows."""
    moves = itertools.pairwise(statuses)
    allowed = all(a == b or JobStatus(a) in ALLOWED_SOURCES[JobStatus(b)] for a, b in moves)
    return allowed and statuses[0] == "pending" and statuses[-1] == "completed"


def submit_all(submitter: Submitter, user: str, indexes: list[int]) -> list[str]:
    return [submitter.submit(user, index) for index in indexes]


def results(futures: list[Future[list[str]]]) -> list[str]:
    return [job for future in futures for job in future.result(timeout=60)]


@pytest.mark.postgres
@pytest.mark.skipif(sys.platform != "linux", reason="SIGKILL, and child processes read from /proc")
@pytest.mark.timeout(900)  # 200 real jobs on 2 shared cores: minutes when the tests run side by side
def test_two_apis_and_two_workers_lose_nothing_when_one_of_each_is_killed(tmp_path: Path) -> None:
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        database_url = stack.enter_context(postgres_schema_url())
        emulator = stack.enter_context(emulator_process(tmp_path))
        emulator_host = emulator.split("/")[2]
        ports = [free_port(), free_port()]
        apis = [f"http://127.0.0.1:{port}" for port in ports]
        shared = {
            **SETTINGS,
            "DATABASE_URL": database_url,
            "LUMA_BASE_URL": emulator,
            "ALLOWED_ASSET_HOSTS": emulator_host,
        }
        data = tmp_path / "data"  # one data dir: the secrets and the object store are shared
        env = [env_for(data, port, **shared) for port in ports]

        processes: dict[str, subprocess.Popen[bytes]] = {}
        for name, api, api_env in zip(("api1", "api2"), apis, env, strict=True):
            log = tmp_path / f"{name}.log"
            processes[name] = stack.enter_context(running(["serve", "--no-worker"], api_env, log))
            wait_healthy(api, processes[name], log)
        # Each worker names its own API in the callback URLs it gives the provider.
        for name, api_env in zip(("worker1", "worker2"), env, strict=True):
            processes[name] = stack.enter_context(running(["worker"], api_env, tmp_path / f"{name}.log"))

        settings = load_settings({k: v for k, v in env[0].items() if k.startswith("PIXELMOTION_")})
        assert settings.provider == "luma"
        tokens = {
            user: issue_token(settings.jwt_secret, user, audience=settings.jwt_audience) for user in USERS
        }
        db = Database(database_url)
        stack.callback(db.engine.dispose)

        # ada is followed on api1 (which dies), bob on api2.
        streams = [
            UserStream("ada", [apis[0], apis[1]], tokens["ada"]),
            UserStream("bob", [apis[1], apis[0]], tokens["bob"]),
        ]
        threads = [stream.start() for stream in streams]
        for stream in streams:
            stack.callback(stream.stop.set)
        wait_for(
            lambda: all(stream.connections for stream in streams),
            timeout=30,
            what="both event streams to connect",
        )

        submitter = Submitter(apis, tokens)
        pool = stack.enter_context(ThreadPoolExecutor(max_workers=len(USERS)))
        plan = [(user, index) for index in range(JOBS_PER_USER) for user in USERS]

        def wave(part: list[tuple[str, int]]) -> list[Future[list[str]]]:
            """Each user's jobs one after the other, the users side by side."""
            by_user = {user: [i for u, i in part if u == user] for user in USERS}
            return [pool.submit(submit_all, submitter, user, indexes) for user, indexes in by_user.items()]

        first = results(wave(plan[:FIRST_WAVE]))
        assert len(set(first)) == FIRST_WAVE
        wait_for(
            lambda: db.count("completed") >= KILL_AFTER_COMPLETED,
            timeout=JOBS_TIMEOUT,
            what=f"{KILL_AFTER_COMPLETED} jobs to complete",
            interval=0.1,
        )
        before_second = submitter.accepted()
        second = wave(plan[FIRST_WAVE:])
        # The kill lands while jobs are still being submitted, and while worker1 holds
        # leases (a job it was working on is the one a lease must bring back).
        doomed = processes["worker1"]
        wait_for(
            lambda: (
                submitter.accepted() - before_second >= KILL_AFTER_SECOND_WAVE
                and len(db.leases_of(doomed.pid)) >= 2
            ),
            timeout=30,
            what="the second wave to start while worker1 holds leases",
            interval=0.01,
        )
        completed_at_kill = db.count("completed")
        started_by_dead = children_of(doomed.pid) + children_of(processes["api1"].pid)
        killed_at = utcnow()
        os.kill(doomed.pid, signal.SIGKILL)
        os.kill(processes["api1"].pid, signal.SIGKILL)
        doomed.wait(timeout=10)
        processes["api1"].wait(timeout=10)
        orphans = db.leases_of(doomed.pid)
        assert orphans, "worker1 held no lease when it was killed"
        kill_seconds = time.monotonic() - started

        job_ids = first + results(second)
        assert len(set(job_ids)) == JOBS, "a job was created twice, or a key gave another's job"

        def ended() -> int:
            return db.count("completed") + db.count("failed") + db.count("canceled")

        try:
            wait_while_progressing(ended, JOBS, stall=STALL_SECONDS, what="every job to end")
        except AssertionError as error:
            left = Counter(job["status"] for job in db.jobs().values())
            raise AssertionError(f"{error}: {dict(left)}") from None
        for stream in streams:
            assert stream.done.wait(timeout=30), (stream.user, stream.errors, len(stream.events))
        for thread in threads:
            thread.join(timeout=10)
        jobs = db.jobs()
        events = db.events()
        downloads = db.downloads()
        stats = emulator_get(emulator, "/_stats", LUMA_KEY)
        made = generations(emulator, LUMA_KEY)
        total_seconds = time.monotonic() - started
        assert processes["worker2"].poll() is None and processes["api2"].poll() is None
        started_by_live = children_of(processes["worker2"].pid) + children_of(processes["api2"].pid)
    # What the four processes started themselves (a worker's process pool, multiprocessing's
    # resource tracker) ends with them, whether they were killed or stopped.
    assert started_by_dead and started_by_live
    started_by_them = started_by_dead + started_by_live
    try:
        wait_for(
            lambda: not any(alive(pid) for pid in started_by_them),
            timeout=15,
            what="the processes they started to end",
            interval=0.2,
        )
    except AssertionError as error:
        running_still = [pid for pid in started_by_them if alive(pid)]
        for pid in running_still:  # a failed run leaves nothing behind either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        raise AssertionError(f"{error}: {running_still} still run") from None

    # Every job completed, in the database as the API was asked: no more, no fewer.
    assert set(jobs) == set(job_ids)
    assert Counter(job["status"] for job in jobs.values()) == {"completed": JOBS}
    assert all(job["lease_owner"] is None and job["next_run_at"] is None for job in jobs.values())
    assert Counter(job["user_id"] for job in jobs.values()) == dict.fromkeys(USERS, JOBS_PER_USER)
    assert all(count > FIRST_WAVE // 4 for count in submitter.accepted_by.values())
    assert set(submitter.accepted_by) == set(apis)

    # One generation per job: the emulator billed 200, each naming one job, the one the job kept.
    assert stats["created"] == JOBS and stats["deleted"] == 0, stats
    assert stats["rate_limited"] == 0, stats  # the cap held across every process
    assert all(generation["state"] == "completed" for generation in made)
    named = Counter(
        job_id
        for generation in made
        for job_id in jobs
        if f"/callbacks/luma/{job_id}?" in str(generation["request"].get("callback_url"))
    )
    assert named == dict.fromkeys(jobs, 1)
    kept = [job["luma_generation_id"] for job in jobs.values()]
    assert len(set(kept)) == JOBS and set(kept) == {generation["id"] for generation in made}

    # One processing run per job; a job the dead worker held may run again, but only once its
    # lease has run out.
    runs = {job_id: len(downloads.get(job_id, [])) for job_id in jobs}
    assert {j: n for j, n in runs.items() if n != 1 and j not in orphans} == {}
    assert all(1 <= runs[j] <= 2 for j in orphans), {j: runs[j] for j in orphans}
    for job_id, (_, lease_until) in orphans.items():
        early = [at for at in downloads[job_id] if killed_at <= at < lease_until]
        assert early == [], f"job {job_id} was taken over before its lease ended"

    # Each stream saw its user's events, every one, once, in order, and nothing else.
    by_job: dict[str, list[str]] = defaultdict(list)
    for event in events:
        by_job[event.job_id].append(event.status.value)
    assert all(legal_order(statuses) for statuses in by_job.values())
    for stream in streams:
        expected = [(e.id, e.job_id, e.status.value) for e in events if e.user_id == stream.user]
        seen = [(e.id, e.data["jobId"], e.data["status"]) for e in stream.events]
        assert seen == expected, stream.user
        statuses: dict[str, list[str]] = defaultdict(list)
        for event in stream.events:
            statuses[event.data["jobId"]].append(event.data["status"])
        assert len(statuses) == JOBS_PER_USER and all(legal_order(s) for s in statuses.values())
    ada, bob = streams
    # ada's API died under her stream: she went on at api2 from the last event she had seen.
    assert ada.connections[0] == (apis[0], 0)
    assert len(ada.connections) >= 2 and ada.connections[-1][0] == apis[1]
    resumed_after = ada.connections[1][1]
    assert 0 < resumed_after < ada.events[-1].id
    assert [e.id for e in ada.events if e.id <= resumed_after][-1] == resumed_after
    assert bob.connections == [(apis[1], 0)], bob.errors

    print(
        f"\nscale-out: {JOBS} jobs in {total_seconds:.0f}s; killed worker1 and api1 at "
        f"{kill_seconds:.0f}s with {completed_at_kill} completed; worker1 held {len(orphans)} "
        f"jobs ({sorted(s for s, _ in orphans.values())}); {sum(n == 2 for n in runs.values())} "
        f"processed twice; submissions {dict(submitter.accepted_by)}, {submitter.failovers} "
        f"failovers, {submitter.replayed} replayed; ada reconnected after event {resumed_after}; "
        f"emulator: {stats}"
    )
