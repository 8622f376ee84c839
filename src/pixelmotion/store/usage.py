"""What users have asked for: the counts a user's limits are checked against, and the
per-user figures of the admin's usage report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pixelmotion.jobs.states import ACTIVE_STATES, JobStatus
from pixelmotion.store.tables import video_generation_jobs as jobs_t
from pixelmotion.store.tx import Aggregate

Ask = tuple[str, str, str, int]  # (model, resolution, aspect ratio, duration): what a job costs


@dataclass(frozen=True)
class UsageWindow:
    """Which of the user's recent jobs a limit check needs: the times of the last hour's jobs
    only once there are ``hour_limit`` of them, the day's asks only when ``since_day`` is set
    (a daily budget). ``active_limit`` and ``hour_limit`` are the counts at which the check
    refuses: a submission in one statement (PostgreSQL) refuses there without asking Python."""

    since_hour: datetime
    since_day: datetime | None
    hour_limit: int
    active_limit: int


@dataclass(frozen=True)
class UserUsage:
    active: int
    created_last_hour_count: int
    created_last_hour: list[datetime] = field(default_factory=list)
    today: list[Ask] = field(default_factory=list)


@dataclass(frozen=True)
class UsageRow:
    user_id: str
    status: str
    provider: str
    model: str
    resolution: str
    aspect_ratio: str
    duration: int


@dataclass(frozen=True)
class Gate:
    """A check run inside a new job's insert transaction, under the user's lock: ``check``
    raises to refuse the job, given the user's usage in ``window``."""

    window: UsageWindow
    check: Callable[[UserUsage], None]


def _users_count(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
    owner = jobs_t.c.user_id == sa.bindparam("user_id", type_=jobs_t.c.user_id.type)
    return sa.select(sa.func.count()).where(owner, condition).scalar_subquery()


# The user's running jobs and the hour's jobs, each counted over its own index
# (idx_video_jobs_user_id on (user_id, status), idx_video_jobs_user_created): what the user has
# on now, never the user's whole history.
# Built once: a submission runs it every time, and building a statement (and its cache key)
# costs about as much as running it.
USER_COUNTS = sa.select(
    _users_count(jobs_t.c.status.in_([s.value for s in ACTIVE_STATES])),
    _users_count(jobs_t.c.created_at >= sa.bindparam("since_hour", type_=jobs_t.c.created_at.type)),
)


def read_user_usage(conn: Connection, user_id: str, window: UsageWindow) -> UserUsage:
    counts = conn.execute(USER_COUNTS, {"user_id": user_id, "since_hour": window.since_hour})
    active_count, hour_count = counts.one()
    return usage_given_counts(conn, user_id, window, int(active_count), int(hour_count))


def usage_given_counts(
    conn: Connection,
    user_id: str,
    window: UsageWindow,
    active: int,
    hour_count: int,
) -> UserUsage:
    """The usage whose counts are known, with the times and asks the check needs read only
    when it needs them."""
    if hour_count < window.hour_limit and window.since_day is None:
        return UserUsage(active=active, created_last_hour_count=hour_count)  # nothing more to read
    mine = [jobs_t.c.user_id == user_id]
    # The times only at the limit, to say when a slot frees (Retry-After).
    hour: list[datetime] = []
    if hour_count >= window.hour_limit:
        hour = list(
            conn.execute(
                sa.select(jobs_t.c.created_at)
                .where(*mine, jobs_t.c.created_at >= window.since_hour)
                .order_by(jobs_t.c.created_at)
            ).scalars()
        )
        # Read after the count (PostgreSQL's one-statement submission reads it outside the
        # user's lock): a job deleted in between is not counted, and no time is missing.
        hour_count = len(hour)
    day = (
        []
        if window.since_day is None
        else conn.execute(
            sa.select(jobs_t.c.model, jobs_t.c.resolution, jobs_t.c.aspect_ratio, jobs_t.c.duration).where(
                *mine,
                jobs_t.c.created_at >= window.since_day,
                jobs_t.c.provider != "import",
                jobs_t.c.status != JobStatus.CANCELED.value,
            )
        ).all()
    )
    return UserUsage(
        active=active,
        created_last_hour_count=hour_count,
        created_last_hour=hour,
        today=[(m, r, a, int(d)) for m, r, a, d in day],
    )


class Usage(Aggregate):
    def of_user(self, user_id: str, window: UsageWindow) -> UserUsage:
        """What the user has running and has asked for lately (for the limits)."""
        with self._db.connect() as conn:
            return read_user_usage(conn, user_id, window)

    def by_user(self, since: datetime) -> list[UsageRow]:
        """Per job since ``since``: whose, how it ended, and what it asked the provider for."""
        query = sa.select(
            jobs_t.c.user_id,
            jobs_t.c.status,
            jobs_t.c.provider,
            jobs_t.c.model,
            jobs_t.c.resolution,
            jobs_t.c.aspect_ratio,
            jobs_t.c.duration,
        ).where(jobs_t.c.created_at >= since)
        with self._db.connect() as conn:
            return [UsageRow(**row._mapping) for row in conn.execute(query)]
