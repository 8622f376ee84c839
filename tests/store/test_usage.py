"""A user's usage for the limits, on a real SQLite file and the real PostgreSQL: counts of what
the user has running and started in the hour, read over indexes, so a submission costs no
more for a user with a long history."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from pixelmotion.app.limits import UserLimits, limits_gate
from pixelmotion.jobs.states import JobStatus
from pixelmotion.store import Store, utcnow
from pixelmotion.store.rows import new_job_row
from pixelmotion.store.tables import video_generation_jobs as jobs_t
from pixelmotion.store.usage import USER_COUNTS
from tests.databases import query_plan
from tests.store.test_repository import spec


def add_jobs(engine: Engine, user_id: str, count: int, status: JobStatus, created_at: datetime) -> None:
    rows = [
        new_job_row(spec(), job_id=str(uuid.uuid4()), user_id=user_id, provider="luma", now=created_at)
        for _ in range(count)
    ]
    for row in rows:
        row.update(status=status.value, next_run_at=None if status is JobStatus.COMPLETED else created_at)
    with engine.begin() as conn:
        conn.execute(jobs_t.insert(), rows)


def test_the_counts_are_the_running_jobs_and_the_hours_jobs(engine: Engine, repository: Store) -> None:
    now = utcnow()
    add_jobs(engine, "me", 300, JobStatus.COMPLETED, now - timedelta(days=30))  # history
    add_jobs(engine, "me", 1, JobStatus.PROCESSING, now - timedelta(hours=2))  # running, not this hour
    add_jobs(engine, "me", 2, JobStatus.PENDING, now - timedelta(minutes=5))
    add_jobs(engine, "me", 2, JobStatus.COMPLETED, now - timedelta(minutes=10))  # this hour, done
    add_jobs(engine, "someone-else", 5, JobStatus.PENDING, now - timedelta(minutes=5))
    window = limits_gate(spec(), UserLimits(), now).window
    usage = repository.usage.of_user("me", window)
    assert (usage.active, usage.created_last_hour_count) == (3, 4)


def test_the_counts_read_the_users_indexes_not_the_users_history(engine: Engine) -> None:
    now = utcnow()
    add_jobs(engine, "me", 3000, JobStatus.COMPLETED, now - timedelta(days=30))  # a long history
    add_jobs(engine, "me", 3, JobStatus.PENDING, now - timedelta(minutes=5))
    for n in range(40):  # a busy service: other users' histories, and a line of their new jobs
        add_jobs(engine, f"user-{n}", 50, JobStatus.COMPLETED, now - timedelta(days=30))
        add_jobs(engine, f"user-{n}", 100, JobStatus.PENDING, now - timedelta(minutes=5))
    plan = query_plan(engine, USER_COUNTS, {"user_id": "me", "since_hour": now - timedelta(hours=1)})
    # Each count over the user's own index entries for what it counts: never a walk over the
    # user's 3,000 finished jobs, nor over everyone's 4,000 running and recent ones.
    # (PostgreSQL chooses by its statistics: with few jobs running, everyone's running jobs
    # through the status index cost it as little, and it may take that.)
    if engine.dialect.name == "sqlite":
        assert "USING COVERING INDEX idx_video_jobs_user_id (user_id=? AND status=?)" in plan, plan
        assert "USING COVERING INDEX idx_video_jobs_user_created (user_id=? AND created_at>?)" in plan, plan
    else:
        assert "Index Cond: ((user_id = 'me'::text) AND (status = ANY" in plan, plan
        assert "idx_video_jobs_user_id" in plan and "idx_video_jobs_user_created" in plan, plan
    assert "SCAN video_generation_jobs" not in plan and "Seq Scan" not in plan, plan
