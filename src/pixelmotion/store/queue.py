"""The queue of due work: claiming a job under a lease, releasing and rescheduling it, the
provider account's slots (caps), and where a waiting job stands in line.

The due time lives on the job row (``next_run_at``), set in the same transaction as the
change that makes work due, so nothing is enqueued that is not committed.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.pricing import total_cost_usd
from pixelmotion.jobs.states import ACTIVE_STATES, JobStatus
from pixelmotion.store.line import EXACT_UP_TO, WAITING, waiting_line
from pixelmotion.store.rows import first_due, is_uuid, job_of, start_of_day, utcnow
from pixelmotion.store.tables import video_generation_jobs as jobs_t
from pixelmotion.store.tx import Aggregate

PROVIDER_SLOTS_LOCK_KEY = 0x706D736C6F7473  # "pmslots": serializes reserve_provider_slot


@dataclass(frozen=True)
class ProviderUsage:
    """The account's use as the caps count it (``/healthz``)."""

    in_flight: int
    sent_last_minute: int
    spent_today_usd: float


class Queue(Aggregate):
    def claim(
        self,
        owner: str,
        *,
        lease_seconds: float,
        caps: ProviderCaps | None = None,
        send_new: bool = True,
        now: datetime | None = None,
    ) -> Job | None:
        """Take one job whose work is due and that no live lease holds.

        Jobs not yet sent to the provider are passed over while the provider's caps are full
        (or ``send_new`` is off: low credit, budget spent); they keep their place in line.
        PostgreSQL's SKIP LOCKED lets workers pass each other's rows; SQLite renders no FOR
        UPDATE and its single writer serializes this one statement.
        """
        now = now or utcnow()
        free = sa.or_(jobs_t.c.lease_until.is_(None), jobs_t.c.lease_until < now)
        due = first_due(
            jobs_t.c.id,
            jobs_t.c.next_run_at,
            jobs_t.c.next_run_at.isnot(None),
            jobs_t.c.next_run_at <= now,
            jobs_t.c.status.in_([s.value for s in ACTIVE_STATES]),
            free,
            _room_for_new_jobs(caps, send_new, now),
        )
        statement = (
            jobs_t.update()
            .where(jobs_t.c.id == due, free)
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            .returning(jobs_t)
        )
        with self._db.begin() as conn:
            row = conn.execute(statement).first()
        return job_of(row) if row else None

    def renew_lease(self, job_id: str, owner: str, *, lease_seconds: float) -> bool:
        until = utcnow() + timedelta(seconds=lease_seconds)
        with self._db.begin() as conn:
            result = conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job_id, jobs_t.c.lease_owner == owner)
                .values(lease_until=until)
            )
        return result.rowcount == 1

    def release(
        self,
        job_id: str,
        owner: str,
        *,
        reschedule: tuple[JobStatus, datetime] | None = None,
        failed_attempt: bool = False,
    ) -> None:
        """Drop our lease; if the job is still in the given state, set when it is next due.

        A callback may have moved the job while we held it; then its own schedule stands.
        """
        with self._db.begin() as conn:
            if reschedule is not None:
                status, when = reschedule
                values: dict[str, Any] = {"next_run_at": when}
                if failed_attempt:
                    values["attempts"] = jobs_t.c.attempts + 1
                conn.execute(
                    jobs_t.update()
                    .where(jobs_t.c.id == job_id, jobs_t.c.status == status.value)
                    .values(values)
                )
            conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job_id, jobs_t.c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )

    def schedule(self, job_id: str, status: JobStatus, when: datetime) -> None:
        """Make a job due at ``when`` if it is still in ``status`` (e.g. to confirm a callback)."""
        with self._db.begin() as conn:
            conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job_id, jobs_t.c.status == status.value)
                .values(next_run_at=when)
            )

    def requeue(self, job_id: str) -> Job | None:
        """Make an unfinished job due now, whatever lease or backoff held it (admin)."""
        if not is_uuid(job_id):
            return None
        statement = (
            jobs_t.update()
            .where(jobs_t.c.id == job_id, jobs_t.c.status.in_([s.value for s in ACTIVE_STATES]))
            .values(next_run_at=utcnow(), lease_owner=None, lease_until=None, attempts=0)
            .returning(jobs_t)
        )
        with self._db.begin() as conn:
            row = conn.execute(statement).first()
        return job_of(row) if row else None

    # --- the provider account's caps (providers/caps.py) ------------------------------------

    def reserve_provider_slot(
        self, job_id: str, caps: ProviderCaps, *, now: datetime | None = None
    ) -> str | None:
        """Mark the job's create as sent (``submitted_at``) if the account's caps allow one
        more; else return which cap holds it back ("in_flight", "per_minute", "daily_budget"),
        or "not_pending" if the job was canceled meanwhile.

        The counts and the mark are one serialized transaction across every process: an
        advisory lock on PostgreSQL; on SQLite the first statement takes the write lock, so
        nobody commits between our counts and our mark.
        """
        now = now or utcnow()
        others = jobs_t.c.id != job_id
        with self._db.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(PROVIDER_SLOTS_LOCK_KEY)))
            job = conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job_id, jobs_t.c.status == JobStatus.PENDING.value)
                .values(updated_at=jobs_t.c.updated_at)  # a no-op write: takes SQLite's lock
                .returning(jobs_t.c.model, jobs_t.c.resolution, jobs_t.c.aspect_ratio, jobs_t.c.duration)
            ).first()
            if job is None:
                return "not_pending"  # canceled meanwhile: nothing to send
            if caps.max_in_flight is not None:
                in_flight = conn.execute(sa.select(sa.func.count()).where(_in_flight(), others)).scalar_one()
                if in_flight >= caps.max_in_flight:
                    return "in_flight"
            if caps.creates_per_minute is not None:
                recent = conn.execute(
                    sa.select(sa.func.count()).where(_sent_since(now - timedelta(minutes=1)), others)
                ).scalar_one()
                if recent >= caps.creates_per_minute:
                    return "per_minute"
            if caps.daily_budget_usd is not None:
                today = conn.execute(_asks().where(_sent_since(start_of_day(now)), others)).all()
                if total_cost_usd(today) + total_cost_usd([job]) > caps.daily_budget_usd:
                    return "daily_budget"
            conn.execute(jobs_t.update().where(jobs_t.c.id == job_id).values(submitted_at=now))
        return None

    def provider_usage(self, now: datetime | None = None) -> ProviderUsage:
        now = now or utcnow()
        with self._db.connect() as conn:
            in_flight = conn.execute(sa.select(sa.func.count()).where(_in_flight())).scalar_one()
            last_minute = conn.execute(
                sa.select(sa.func.count()).where(_sent_since(now - timedelta(minutes=1)))
            ).scalar_one()
        spent = total_cost_usd(self.submitted_since(start_of_day(now)))
        return ProviderUsage(int(in_flight), int(last_minute), round(spent, 4))

    def oldest_send_since(self, since: datetime) -> datetime | None:
        """When the oldest create sent since ``since`` went out (the per-minute window opens a
        minute after it)."""
        with self._db.connect() as conn:
            return conn.execute(  # type: ignore[no-any-return]
                sa.select(sa.func.min(jobs_t.c.submitted_at)).where(_sent_since(since))
            ).scalar()

    def submitted_since(self, since: datetime) -> list[tuple[str, str, str, int]]:
        """(model, resolution, aspect ratio, duration) of each generation submitted since then."""
        with self._db.connect() as conn:
            return [(m, r, a, int(d)) for m, r, a, d in conn.execute(_asks().where(_sent_since(since)))]

    # --- where a job stands ---------------------------------------------------------------

    def queue_position(self, job: Job) -> int | None:
        """Where a job not yet sent to the provider stands among those waiting (1: next)."""
        return self.queue_positions([job]).get(job.id)

    def queue_positions(self, jobs: list[Job]) -> dict[str, int]:
        """Positions of those of ``jobs`` not yet sent (a page of a listing).

        In a short line, each is a count over the waiting line's own index
        (``idx_video_jobs_waiting``: only the jobs waiting to be sent, by (created_at, id)),
        never a read of the line's rows; a page's jobs are counted in line order, each from
        the one before it. In a long line, a bisection of this process's copy of the line
        (``store/line.py``), so no poll costs more as the line grows. Counts other users' jobs
        too, so it runs as the service, and says nothing but numbers.
        """
        waiting = sorted(
            (job for job in jobs if job.status is JobStatus.PENDING and job.submitted_at is None),
            key=lambda job: (job.created_at, job.id),
        )
        if not waiting:
            return {}
        threads_db = self._db.off_loop()  # the line's copy is read on a thread of its own
        line = waiting_line(threads_db.engine)
        copied = [line.ahead((job.created_at, job.id)) for job in waiting]
        if copied[0] is not None and copied[0] > EXACT_UP_TO:
            if line.due():
                line.refresh_soon(threads_db.connect_as_service)
            return {job.id: int(ahead or 0) + 1 for job, ahead in zip(waiting, copied, strict=True)}
        keys: dict[str, object] = {}
        for n, job in enumerate(waiting):
            keys.update({f"created_{n}": job.created_at, f"id_{n}": job.id})
        with self._db.connect_as_service() as conn:
            counts = conn.execute(_counts_ahead(len(waiting)), keys).one()
            ahead = list(itertools.accumulate(int(n) for n in counts))
        if ahead[-1] > EXACT_UP_TO and line.due():
            line.refresh_soon(threads_db.connect_as_service)  # a long line: later reads bisect a copy
        return {job.id: n + 1 for job, n in zip(waiting, ahead, strict=True)}

    # --- figures for /metrics ------------------------------------------------------------

    def count_by_status(self) -> dict[str, int]:
        query = sa.select(jobs_t.c.status, sa.func.count()).group_by(jobs_t.c.status)
        with self._db.connect() as conn:
            return {str(status): int(count) for status, count in conn.execute(query)}

    def due_count(self, now: datetime | None = None) -> int:
        """Jobs whose work is due and that no worker holds: the queue's depth."""
        now = now or utcnow()
        query = sa.select(sa.func.count()).where(
            jobs_t.c.next_run_at.isnot(None),
            jobs_t.c.next_run_at <= now,
            sa.or_(jobs_t.c.lease_until.is_(None), jobs_t.c.lease_until < now),
        )
        with self._db.connect() as conn:
            return int(conn.execute(query).scalar_one())


def _asks() -> sa.Select[Any]:
    return sa.select(jobs_t.c.model, jobs_t.c.resolution, jobs_t.c.aspect_ratio, jobs_t.c.duration)


def _in_flight() -> sa.ColumnElement[bool]:
    """Generations the provider is working on, or whose create may be on its way."""
    return sa.or_(
        jobs_t.c.status.in_([JobStatus.QUEUED.value, JobStatus.DREAMING.value]),
        sa.and_(jobs_t.c.status == JobStatus.PENDING.value, jobs_t.c.submitted_at.isnot(None)),
    )


def _sent_since(since: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(jobs_t.c.submitted_at.isnot(None), jobs_t.c.submitted_at >= since)


def _waiting_to_send() -> sa.ColumnElement[bool]:
    return sa.and_(jobs_t.c.status == JobStatus.PENDING.value, jobs_t.c.submitted_at.is_(None))


@functools.lru_cache(maxsize=128)
def _counts_ahead(size: int) -> sa.Select[Any]:
    """One statement for ``size`` waiting jobs in line order, bound as ``created_N``/``id_N``:
    the jobs in line before each, counted from the job before it, so a page costs no more
    index entries than its last job's place. Built once per page size: building it (and its
    cache key) for every poll cost more than running it."""
    line = sa.tuple_(jobs_t.c.created_at, jobs_t.c.id)
    counts = []
    for n in range(size):
        query = sa.select(sa.func.count()).select_from(jobs_t).where(WAITING, line < _bound_key(n))
        if n:
            query = query.where(line >= _bound_key(n - 1))
        counts.append(query.scalar_subquery())
    return sa.select(*counts)


def _bound_key(n: int) -> sa.Tuple:
    return sa.tuple_(
        sa.bindparam(f"created_{n}", type_=jobs_t.c.created_at.type),
        sa.bindparam(f"id_{n}", type_=jobs_t.c.id.type),
    )


def _room_for_new_jobs(caps: ProviderCaps | None, send_new: bool, now: datetime) -> sa.ColumnElement[bool]:
    """The claim's gate for jobs not yet sent: true for every other job, and for these only
    while the caps have room (the reservation checks again, serialized)."""
    room: list[sa.ColumnElement[bool]] = []
    if not send_new:
        room.append(sa.false())
    # An unsent job a worker holds now is about to take a slot: counted, so a claim takes no
    # more unsent jobs than there is room for, the earliest first, and a later one cannot
    # reserve the slot before the earlier one it came after (``hold_back``).
    about_to_send = sa.and_(_waiting_to_send(), jobs_t.c.lease_until.isnot(None), jobs_t.c.lease_until >= now)
    if caps is not None and caps.max_in_flight is not None:
        in_flight = sa.select(sa.func.count()).where(sa.or_(_in_flight(), about_to_send)).scalar_subquery()
        room.append(in_flight < caps.max_in_flight)
    if caps is not None and caps.creates_per_minute is not None:
        recent = (
            sa.select(sa.func.count())
            .where(sa.or_(_sent_since(now - timedelta(minutes=1)), about_to_send))
            .scalar_subquery()
        )
        room.append(recent < caps.creates_per_minute)
    if not room:
        return sa.true()
    return sa.or_(sa.not_(_waiting_to_send()), sa.and_(*room))
