"""store/tx.py: NOTIFY after commit, many events to a notification (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.util import greenlet_spawn

from pixelmotion.app.errors import LimitReached
from pixelmotion.app.limits import UserLimits, limits_gate
from pixelmotion.events.listen import libpq_dsn
from pixelmotion.jobs.requests import build_spec
from pixelmotion.store import Store, create_engine, migrate
from pixelmotion.store.database import create_loop_engine
from pixelmotion.store.tx import EVENTS_CHANNEL, announcer, payloads
from tests.databases import POSTGRES_URL, postgres_schema_url


def test_payloads_keep_every_event_in_order_under_the_limit() -> None:
    events = [{"job_id": f"job-{n}", "user_id": "alice", "event_id": n} for n in range(300)]
    found = payloads(events, 1000)
    assert len(found) > 1 and all(len(text.encode()) <= 1000 for text in found)
    assert [event for text in found for event in json.loads(text)] == events
    assert payloads([], 1000) == []


def received(listener: psycopg.Connection[Any], count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """This test's events of the notifications that came, until ``count`` of them or the
    deadline, in order."""
    return [event for batch in notifications(listener, count, timeout) for event in batch]


def notifications(
    listener: psycopg.Connection[Any], count: int, timeout: float = 10
) -> list[list[dict[str, Any]]]:
    """This test's events (jobs named ``job-N``) as they came, one list per notification, until
    ``count`` of them or the deadline. The channel is the database's: tests running beside this
    one on other schemas notify on it too, with their jobs' UUIDs."""
    found: list[list[dict[str, Any]]] = []
    deadline = time.monotonic() + timeout
    while sum(map(len, found)) < count and time.monotonic() < deadline:
        for notify in listener.notifies(timeout=0.2, stop_after=1):
            mine = [e for e in json.loads(notify.payload) if str(e["job_id"]).startswith("job-")]
            if mine:
                found.append(mine)
    return found


@pytest.fixture
def engine_and_listener() -> Iterator[tuple[sa.Engine, psycopg.Connection[Any]]]:
    with postgres_schema_url() as url:
        engine = create_engine(url)
        listener = psycopg.connect(libpq_dsn(url), autocommit=True)
        listener.execute(f"LISTEN {EVENTS_CHANNEL}")
        try:
            yield engine, listener
        finally:
            listener.close()
            engine.dispose()


@pytest.mark.postgres
def test_announced_events_arrive_and_the_sender_reconnects_after_a_drop(
    engine_and_listener: tuple[sa.Engine, psycopg.Connection[Any]],
) -> None:
    engine, listener = engine_and_listener
    sender = announcer(engine)
    sender.announce("job-1", "alice", 1)
    assert received(listener, 1) == [{"job_id": "job-1", "user_id": "alice", "event_id": 1}]

    pid = sender._sender().info.backend_pid
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            deadline = time.monotonic() + 10
            alive = sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            while conn.execute(alive, {"pid": pid}).scalar_one():
                assert time.monotonic() < deadline
                time.sleep(0.01)
        # The send meets the dropped connection; the sender reconnects and sends again.
        sender.announce("job-2", "alice", 2)
        sender.announce("job-3", "alice", 3)
        assert [e["job_id"] for e in received(listener, 2)] == ["job-2", "job-3"]
        assert sender._sender().info.backend_pid != pid

        own_pid = sender._sender().info.backend_pid
        engine.dispose()  # the sender's connection closes with the engine's pool
        with admin.connect() as conn:
            deadline = time.monotonic() + 10
            while conn.execute(alive, {"pid": own_pid}).scalar_one():
                assert time.monotonic() < deadline, "the sender's connection outlived its engine"
                time.sleep(0.01)
    finally:
        admin.dispose()


@pytest.mark.postgres
def test_a_burst_of_events_goes_in_a_few_notifications_and_disposing_sends_what_is_pending(
    engine_and_listener: tuple[sa.Engine, psycopg.Connection[Any]],
) -> None:
    engine, listener = engine_and_listener
    sender = announcer(engine)
    for n in range(200):
        sender.announce(f"job-{n}", "alice", n)
    burst = notifications(listener, 200)
    assert [e["event_id"] for batch in burst for e in batch] == list(range(200))
    assert len(burst) <= 20  # one notification each would be 200 wake-ups of every listener

    sender.announce("job-last", "alice", 200)
    engine.dispose()  # at once: the sender still sends it before its connection closes
    assert notifications(listener, 1) == [[{"job_id": "job-last", "user_id": "alice", "event_id": 200}]]


@pytest.mark.postgres
def test_on_the_loop_one_users_submissions_take_turns_and_the_limit_holds(tmp_path: Path) -> None:
    with postgres_schema_url() as url:
        engine = create_engine(url)
        migrate(engine, lock_dir=tmp_path)
        loop_engine = create_loop_engine(url)
        assert loop_engine is not None
        store = Store(engine)
        store.db.loop_engine = loop_engine.sync_engine
        alice = store.as_user("alice").on_the_loop()
        assert alice is not None and alice.db.on_loop
        spec = build_spec(prompt="a cat", width=16, height=16, color_count=4, fps=12)
        limits = UserLimits(max_active_jobs=3)

        def submit() -> str:
            try:
                alice.jobs.submit(spec, user_id="alice", provider="emulator", gate=limits_gate(spec, limits))
            except LimitReached:
                return "refused"
            return "accepted"

        async def main() -> list[str]:
            try:
                # Eight at once on one loop: a thread's lock for the user's turn would stop the
                # loop with the holder waiting on it.
                return list(await asyncio.gather(*(greenlet_spawn(submit) for _ in range(8))))
            finally:
                await loop_engine.dispose()

        try:
            assert sorted(asyncio.run(main())) == ["accepted"] * 3 + ["refused"] * 5
            assert len(store.jobs.list_for_user("alice")) == 3
        finally:
            engine.dispose()
