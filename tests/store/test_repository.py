"""The repository on a real SQLite file and the real PostgreSQL (each test runs on both)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from pixelmotion.app.errors import LimitReached
from pixelmotion.app.limits import UserLimits, limits_gate
from pixelmotion.jobs.models import Job, JobSpec
from pixelmotion.jobs.moves import Move
from pixelmotion.jobs.pricing import estimated_cost_usd
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.jobs.updates import move_for_generation
from pixelmotion.store import Store, utcnow
from pixelmotion.store.jobs import Inserted
from pixelmotion.store.tables import job_events, webhook_deliveries
from pixelmotion.store.usage import Gate


def spec(**overrides: object) -> JobSpec:
    values: dict[str, object] = {"prompt": "a cat", "width": 64, "height": 64, "color_count": 16, "fps": 24}
    values.update(overrides)
    return build_spec(**values)  # type: ignore[arg-type]


def test_create_writes_the_job_and_its_first_event(repository: Store) -> None:
    job = repository.jobs.create(spec(project_id="p1"), user_id="alice", provider="emulator")
    assert job.status is JobStatus.PENDING and job.progress == 0
    assert job.next_run_at is not None  # enqueued with the insert
    events = repository.events.after(job_id=job.id)
    assert [(e.status, e.progress) for e in events] == [(JobStatus.PENDING, 0)]
    assert repository.jobs.get(job.id, user_id="alice") == job
    assert repository.jobs.get(job.id, user_id="bob") is None
    assert repository.jobs.get("not-a-uuid") is None


def test_compare_and_set_refuses_a_move_from_the_wrong_state(repository: Store) -> None:
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    to_dreaming = Move(JobStatus.DREAMING, frozenset({JobStatus.PENDING, JobStatus.QUEUED}))
    assert repository.jobs.apply(job.id, to_dreaming) is not None
    to_queued = Move(JobStatus.QUEUED, frozenset({JobStatus.PENDING}))
    assert repository.jobs.apply(job.id, to_queued) is None  # never backwards
    current = repository.jobs.get(job.id)
    assert current is not None and current.status is JobStatus.DREAMING
    assert [e.status for e in repository.events.after(job_id=job.id)] == [
        JobStatus.PENDING,
        JobStatus.DREAMING,
    ]


def test_a_repeated_completed_callback_moves_the_job_once(repository: Store) -> None:
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    move = move_for_generation(
        job, state="completed", failure_reason=None, video_url="http://clip", now=utcnow(), grace_seconds=90
    )
    assert move is not None
    results = [repository.jobs.apply(job.id, move) for _ in range(4)]
    assert sum(result is not None for result in results) == 1
    assert len(repository.events.after(job_id=job.id)) == 2


def test_terminal_moves_clear_the_queue_columns(repository: Store) -> None:
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    repository.queue.claim("w1", lease_seconds=30)
    move = Move(JobStatus.PROCESSING, frozenset({JobStatus.PENDING}))
    repository.jobs.apply(job.id, move)
    done = repository.jobs.apply(
        job.id, Move(JobStatus.COMPLETED, frozenset({JobStatus.PROCESSING}), {"total_frames": 120})
    )
    assert done is not None
    assert done.completed_at is not None and done.progress == 100
    assert done.next_run_at is None and done.lease_owner is None
    assert repository.jobs.recent_durations_seconds()[0] >= 0


def test_claim_takes_due_work_once_and_respects_leases(repository: Store) -> None:
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    claimed = repository.queue.claim("w1", lease_seconds=30)
    assert claimed is not None and claimed.id == job.id and claimed.lease_owner == "w1"
    assert repository.queue.claim("w2", lease_seconds=30) is None
    # An expired lease is work again.
    later = utcnow() + timedelta(seconds=31)
    reclaimed = repository.queue.claim("w2", lease_seconds=30, now=later)
    assert reclaimed is not None and reclaimed.lease_owner == "w2"


def test_release_reschedules_only_if_the_state_is_unchanged(repository: Store) -> None:
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    repository.queue.claim("w1", lease_seconds=30)
    # A callback moved the job while we held it; our reschedule of "pending" must not apply.
    repository.jobs.apply(
        job.id, Move(JobStatus.PROCESSING, frozenset({JobStatus.PENDING}), {"next_run_at": utcnow()})
    )
    later = utcnow() + timedelta(hours=1)
    repository.queue.release(job.id, "w1", reschedule=(JobStatus.PENDING, later), failed_attempt=True)
    current = repository.jobs.get(job.id)
    assert current is not None
    assert current.lease_owner is None and current.next_run_at is not None and current.next_run_at < later
    assert current.attempts == 0


def test_future_work_is_not_claimed(repository: Store) -> None:
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    repository.queue.claim("w1", lease_seconds=30)
    repository.queue.release(job.id, "w1", reschedule=(JobStatus.PENDING, utcnow() + timedelta(minutes=5)))
    assert repository.queue.claim("w2", lease_seconds=30) is None


def test_concurrent_claims_never_hand_out_a_job_twice(repository: Store) -> None:
    ids = {repository.jobs.create(spec(), user_id="alice", provider="emulator").id for _ in range(12)}
    claimed: list[str] = []
    lock = threading.Lock()

    def take() -> None:
        while True:
            job = repository.queue.claim(threading.current_thread().name, lease_seconds=60)
            if job is None:
                return
            with lock:
                claimed.append(job.id)

    threads = [threading.Thread(target=take, name=f"w{i}") for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == sorted(ids)


def test_list_for_user_is_newest_first_and_pages(repository: Store) -> None:
    base = utcnow()
    made = [
        repository.jobs.create(
            spec(project_id="p" if i % 2 else None),
            user_id="alice",
            provider="emulator",
            now=base + timedelta(seconds=i),
        )
        for i in range(5)
    ]
    repository.jobs.create(spec(), user_id="bob", provider="emulator")
    first = repository.jobs.list_for_user("alice", limit=3)
    assert [j.id for j in first] == [j.id for j in reversed(made)][:3]
    rest = repository.jobs.list_for_user("alice", limit=3, before=first[-1].created_at)
    assert [j.id for j in rest] == [made[1].id, made[0].id]
    assert {j.id for j in repository.jobs.list_for_user("alice", project_id="p")} == {made[1].id, made[3].id}


def test_event_ids_ascend_across_jobs(repository: Store) -> None:
    a = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    b = repository.jobs.create(spec(), user_id="bob", provider="emulator")
    repository.jobs.report_progress(a.id, JobStatus.PENDING, 5, "warming up")
    ids = [e.id for e in repository.events.after()]
    assert ids == sorted(ids) and len(ids) == 3
    assert [e.job_id for e in repository.events.after(user_id="bob")] == [b.id]
    assert repository.events.last_id() == ids[-1]


def test_callbacks_are_kept_and_unconfirmed_ones_found(repository: Store) -> None:
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    repository.callbacks.record(
        job_id=job.id,
        user_id="alice",
        generation_id="g1",
        state="dreaming",
        body={"id": "g1"},
        outcome="unconfirmed",
    )
    repository.callbacks.record(
        job_id=job.id,
        user_id="alice",
        generation_id="g1",
        state="completed",
        body={"id": "g1"},
        outcome="unconfirmed",
    )
    assert repository.callbacks.unconfirmed_generation_ids(job.id) == ["g1"]
    assert [c.state for c in repository.callbacks.for_job(job.id)] == ["dreaming", "completed"]


def test_listeners_hear_each_committed_event(repository: Store, engine: sa.Engine) -> None:
    heard: list[tuple[str, str, int]] = []
    repository.add_listener(lambda job_id, user_id, event_id: heard.append((job_id, user_id, event_id)))
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    # The event's id as stored. Not ``events.last_id()``: on PostgreSQL that is the last
    # event readers may follow yet, which waits while any older transaction in the database
    # (another test's) is still open.
    with engine.connect() as conn:
        stored = conn.execute(sa.select(job_events.c.id).where(job_events.c.job_id == job.id)).scalar_one()
    assert heard == [(job.id, "alice", stored)]


def test_a_later_event_is_found_without_waiting_for_older_transactions(
    repository: Store, engine: sa.Engine
) -> None:
    """What a resumed stream of a finished job asks before it answers: ``any_after`` sees a
    committed later event at once, where ``after`` (PostgreSQL) holds it back, briefly, while a
    transaction older than it is still open."""
    job = repository.jobs.create(spec(), user_id="alice", provider="emulator")
    first = repository.events.after(job_id=job.id)[-1].id
    assert not repository.events.any_after(first, job_id=job.id)
    assert not repository.events.any_after(0, job_id="not-a-job")
    on_postgres = engine.dialect.name == "postgresql"
    with engine.connect() as older:
        if on_postgres:
            older.execute(sa.text("SELECT pg_current_xact_id()"))  # a transaction id, before the event's
        to_dreaming = Move(JobStatus.DREAMING, frozenset({JobStatus.PENDING}))
        assert repository.jobs.apply(job.id, to_dreaming) is not None
        assert repository.events.any_after(first, job_id=job.id)
        if on_postgres:
            assert repository.events.after(after_id=first, job_id=job.id) == []  # not settled yet
        older.rollback()
    assert [e.status for e in repository.events.after(after_id=first, job_id=job.id)] == [JobStatus.DREAMING]


def test_sqlite_runs_in_wal_mode(engine: sa.Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    with engine.connect() as conn:
        assert conn.execute(sa.text("PRAGMA journal_mode")).scalar() == "wal"


def test_a_job_without_its_own_webhook_reports_to_the_newest_enabled_endpoint(repository: Store) -> None:
    def submitted(user_id: str) -> Job:
        return repository.jobs.submit(
            spec(), user_id=user_id, provider="emulator", newest_endpoint_events="all"
        ).job

    assert (submitted("alice").webhook_endpoint_id, submitted("alice").webhook_events) == (None, None)
    older = repository.webhooks.endpoint("alice", "https://hooks.example/old", new_secret=lambda: "s1")
    newer = repository.webhooks.endpoint("alice", "https://hooks.example/new", new_secret=lambda: "s2")
    assert older.created_at < newer.created_at
    job = submitted("alice")
    assert (job.webhook_endpoint_id, job.webhook_events) == (newer.id, "all")
    assert repository.jobs.get(job.id) == job
    repository.webhooks.disable_endpoint(newer.id)
    assert submitted("alice").webhook_endpoint_id == older.id
    assert submitted("bob").webhook_endpoint_id is None  # never another user's endpoint
    own = repository.webhooks.new_endpoint("alice", "https://hooks.example/own", lambda: "s3")
    inserted = repository.jobs.submit(spec(), user_id="alice", provider="emulator", endpoint=own)
    assert inserted.job.webhook_endpoint_id == own.id


def gated(repository: Store, user_id: str, at: datetime, limits: UserLimits, **options: Any) -> Inserted:
    """A submission checked against ``limits`` at ``at``, as the submit route makes it (on
    PostgreSQL, unless it has a daily budget or a delivery due at once, one call to
    ``pixelmotion_submit_job``; on SQLite, its steps)."""
    job_spec = spec()
    gate = limits_gate(job_spec, limits, at)
    return repository.jobs.submit(
        job_spec, user_id=user_id, provider="emulator", now=at, gate=gate, **options
    )


@pytest.mark.parametrize("events, deliveries", [("terminal", 0), ("all", 1)])
def test_a_checked_submission_writes_the_job_its_event_and_its_endpoints_delivery(
    repository: Store, events: str, deliveries: int
) -> None:
    endpoint = repository.webhooks.endpoint("alice", "https://hooks.example/all", new_secret=lambda: "s1")
    job = gated(repository, "alice", utcnow(), UserLimits(), newest_endpoint_events=events).job
    assert repository.jobs.get(job.id) == job
    assert (job.webhook_endpoint_id, job.webhook_events) == (endpoint.id, events)
    assert [(e.status, e.progress) for e in repository.events.after(job_id=job.id)] == [
        (JobStatus.PENDING, 0)
    ]
    with repository.engine.connect() as conn:
        written = sa.select(sa.func.count()).where(webhook_deliveries.c.job_id == job.id)
        assert conn.execute(written).scalar_one() == deliveries  # "all": the job's first change too
    alone = gated(repository, "bob", utcnow(), UserLimits(), newest_endpoint_events=events).job
    assert (alone.webhook_endpoint_id, alone.webhook_events) == (None, None)


@pytest.mark.postgres
def test_a_plain_checked_submission_on_postgresql_is_one_statement_in_its_own_transaction(
    pg_repository: Store,
) -> None:
    repository = pg_repository
    statements: list[str] = []
    sa.event.listen(repository.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    job = gated(repository, "alice", utcnow(), UserLimits(), newest_endpoint_events="terminal").job
    assert len(statements) == 1 and "pixelmotion_submit_job" in statements[0]
    assert [e.job_id for e in repository.events.after(user_id="alice")] == [job.id]
    # The connection went back to the pool out of autocommit: the next transaction rolls back.
    with pytest.raises(RuntimeError), repository.engine.begin() as conn:
        conn.execute(job_events.delete())
        raise RuntimeError("undo")
    assert len(repository.events.after(user_id="alice")) == 1


def test_a_refusal_the_usage_read_after_it_does_not_bear_out_is_checked_again(repository: Store) -> None:
    """On PostgreSQL the function refuses at the window's counts and Python reads the details
    afterwards, outside the user's lock; if they no longer refuse (a job ended in between),
    the submission takes the checked steps instead of failing. Here the window says refuse
    at 0 running jobs and the check allows any: the job is written once, by the steps."""
    window = limits_gate(spec(), UserLimits(), utcnow()).window
    allowing = Gate(replace(window, active_limit=0), lambda usage: None)
    job = repository.jobs.submit(spec(), user_id="alice", provider="emulator", gate=allowing).job
    assert [j.id for j in repository.jobs.list_for_user("alice", limit=10)] == [job.id]
    assert [e.job_id for e in repository.events.after(user_id="alice")] == [job.id]


def test_a_refused_submission_leaves_nothing_and_counts_only_earlier_jobs(repository: Store) -> None:
    start = utcnow() - timedelta(minutes=30)
    hourly = UserLimits(max_active_jobs=100, jobs_per_hour=2)
    first = gated(repository, "alice", start, hourly).job
    gated(repository, "alice", start + timedelta(minutes=10), hourly)
    with pytest.raises(LimitReached) as refused:
        gated(repository, "alice", start + timedelta(minutes=20), hourly)
    # The oldest of the two earlier jobs frees its slot an hour after it began: 40 minutes on.
    assert refused.value.code == "HOURLY_LIMIT" and refused.value.retry_after == 40 * 60 + 1
    assert len(repository.jobs.list_for_user("alice", limit=10)) == 2
    events = repository.events.after(user_id="alice")
    assert len(events) == 2 and events[0].job_id == first.id

    with pytest.raises(LimitReached) as busy:
        gated(repository, "bob", utcnow(), UserLimits(max_active_jobs=0))
    assert busy.value.code == "TOO_MANY_ACTIVE_JOBS"
    assert repository.events.after(user_id="bob") == []

    ask = spec()
    two_jobs = UserLimits(
        daily_budget_usd=2 * estimated_cost_usd(ask.model, ask.resolution, ask.aspect_ratio, ask.duration)
    )
    gated(repository, "carol", utcnow(), two_jobs)
    gated(repository, "carol", utcnow(), two_jobs)
    with pytest.raises(LimitReached) as spent:
        gated(repository, "carol", utcnow(), two_jobs)
    assert spent.value.code == "DAILY_BUDGET"
