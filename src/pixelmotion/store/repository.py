"""The job repository: every read and write of jobs, events and callbacks.

Every change of a job is a compare-and-set (``UPDATE … WHERE id = :id AND status IN (…)``)
that writes its ``job_events`` row in the same transaction, so a late or repeated callback can
never move a job backwards and no change goes unrecorded.
"""

from __future__ import annotations

import bisect
import contextlib
import copy
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from pixelmotion.jobs.models import Job, JobEvent, JobSpec
from pixelmotion.jobs.pricing import total_cost_usd
from pixelmotion.jobs.states import ACTIVE_STATES, MESSAGES, PROGRESS, TERMINAL_STATES, JobStatus
from pixelmotion.jobs.summary import event_type, summary
from pixelmotion.jobs.updates import Move
from pixelmotion.providers.caps import ProviderCaps
from pixelmotion.store.tables import (
    idempotency_keys,
    job_events,
    provider_callbacks,
    video_generation_jobs,
    webhook_deliveries,
    webhook_endpoints,
)

jobs_t = video_generation_jobs
# Commit-ordered event ids on PostgreSQL: a sequence hands out ids at insert, not at commit,
# so two transactions could commit out of order and a reader resuming after id N would
# skip the later-committed smaller id. This lock, taken just before the event insert and
# held to commit, keeps ids in commit order.
EVENTS_LOCK_KEY = 0x706D6576656E7473  # "pmevents"
EVENTS_CHANNEL = "pixelmotion_events"
PROVIDER_SLOTS_LOCK_KEY = 0x706D736C6F7473  # "pmslots": serializes reserve_provider_slot

JOB_FIELDS = {f.name for f in fields(Job)} - {"extra", "status"}
_INSERT_JOB = jobs_t.insert().returning(jobs_t)

EventListener = Callable[[str, str, int], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


class JobRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._listeners: list[EventListener] = []
        self._claims: str | None = None  # set on a view made by ``as_user``

    # --- acting as a user (Row Level Security) -------------------------------------------

    def as_user(self, user_id: str, claims: dict[str, Any] | None = None) -> JobRepository:
        """This repository, with every query run as the user: on PostgreSQL each transaction
        sets the caller's claims and ``SET LOCAL ROLE pixelmotion_user``, so Row Level
        Security holds even where a query forgot its ``WHERE user_id``."""
        view = copy.copy(self)
        view._claims = json.dumps({**(claims or {}), "sub": user_id})
        return view

    def _scope(self, conn: Connection) -> None:
        if self._claims is not None and conn.dialect.name == "postgresql":
            conn.execute(
                sa.text("SELECT set_config('request.jwt.claims', :claims, true)"), {"claims": self._claims}
            )
            conn.execute(sa.text("SET LOCAL ROLE pixelmotion_user"))

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A write transaction. On SQLite, this process's writers take turns on a lock first:
        SQLite's busy handler sleeps in growing steps (up to 100 ms) while another writer
        holds the file, so queueing here keeps writes from waiting far longer than they must.
        Other processes' writers still meet the busy timeout."""
        with self._write_turn(), self.engine.begin() as conn:
            self._scope(conn)
            yield conn

    def _write_turn(self) -> contextlib.AbstractContextManager[object]:
        return (
            _sqlite_write_lock(self.engine)
            if self.engine.dialect.name == "sqlite"
            else contextlib.nullcontext()
        )

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            self._scope(conn)
            yield conn

    # --- notification -------------------------------------------------------------------

    def add_listener(self, listener: EventListener) -> None:
        """Called with (job_id, user_id, event_id) after each committed event."""
        self._listeners.append(listener)

    def _notify(self, job: Job, event_id: int) -> None:
        for listener in self._listeners:
            listener(job.id, job.user_id, event_id)

    # --- creating and reading -----------------------------------------------------------

    def create(
        self,
        spec: JobSpec,
        *,
        user_id: str,
        provider: str,
        now: datetime | None = None,
        run_at: datetime | None = None,
    ) -> Job:
        """Insert a job with its first event; it is due for submission at ``run_at`` (now)."""
        now = now or utcnow()
        with self._begin() as conn:
            job = self._insert_job(conn, spec, user_id=user_id, provider=provider, now=now, run_at=run_at)
            event_id = self._insert_event(conn, job, now)
        self._notify(job, event_id)
        return job

    def _insert_job(
        self,
        conn: Connection,
        spec: JobSpec,
        *,
        user_id: str,
        provider: str,
        now: datetime,
        run_at: datetime | None,
    ) -> Job:
        values = new_job_row(
            spec, job_id=str(uuid.uuid4()), user_id=user_id, provider=provider, now=now, run_at=run_at
        )
        # One statement, values bound as parameters: SQLAlchemy compiles it once (building an
        # insert with .values() per job cost about 0.25 ms of CPU, a tenth of a submission).
        return _job(conn.execute(_INSERT_JOB, values).one())

    def create_once(
        self, spec: JobSpec, *, user_id: str, provider: str, key: str, fingerprint: str
    ) -> tuple[Job, bool]:
        """``create`` under an Idempotency-Key: (job, created). The same key with the same
        fingerprint gives back the first job; raises ``KeyReused`` for another body and
        ``KeyInFlight`` when a request with the key commits while ours runs."""
        existing = self._job_for_key(user_id, key, fingerprint)
        if existing is not None:
            return existing, False
        now = utcnow()
        try:
            with self._begin() as conn:
                job = self._insert_job(conn, spec, user_id=user_id, provider=provider, now=now, run_at=None)
                conn.execute(
                    idempotency_keys.insert().values(
                        user_id=user_id, key=key, fingerprint=fingerprint, job_id=job.id, created_at=now
                    )
                )
                event_id = self._insert_event(conn, job, now)
        except sa.exc.IntegrityError:
            raise KeyInFlight(key) from None
        self._notify(job, event_id)
        return job, True

    def _job_for_key(self, user_id: str, key: str, fingerprint: str) -> Job | None:
        query = (
            sa.select(idempotency_keys.c.fingerprint, jobs_t)
            .join(jobs_t, jobs_t.c.id == idempotency_keys.c.job_id)
            .where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
        )
        with self._connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        if row.fingerprint != fingerprint:
            raise KeyReused(key)
        return _job(row)

    def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        if not _is_uuid(job_id):
            return None
        query = sa.select(jobs_t).where(jobs_t.c.id == job_id)
        if user_id is not None:
            query = query.where(jobs_t.c.user_id == user_id)
        with self._connect() as conn:
            row = conn.execute(query).first()
        return _job(row) if row else None

    def get_by_generation(self, generation_id: str) -> Job | None:
        query = sa.select(jobs_t).where(jobs_t.c.luma_generation_id == generation_id)
        with self._connect() as conn:
            row = conn.execute(query).first()
        return _job(row) if row else None

    def list_for_user(
        self,
        user_id: str,
        *,
        limit: int = 20,
        before: datetime | None = None,
        project_id: str | None = None,
        status: JobStatus | None = None,
    ) -> list[Job]:
        """The user's jobs, newest first; ``before`` pages by creation time."""
        query = sa.select(jobs_t).where(jobs_t.c.user_id == user_id)
        if before is not None:
            query = query.where(jobs_t.c.created_at < before)
        if project_id is not None:
            query = query.where(jobs_t.c.project_id == project_id)
        if status is not None:
            query = query.where(jobs_t.c.status == status.value)
        query = query.order_by(jobs_t.c.created_at.desc(), jobs_t.c.id.desc()).limit(limit)
        with self._connect() as conn:
            return [_job(row) for row in conn.execute(query)]

    def recent_durations_seconds(self, limit: int = 20) -> list[float]:
        """How long the last completed jobs took, end to end."""
        query = (
            sa.select(jobs_t.c.created_at, jobs_t.c.completed_at)
            .where(jobs_t.c.status == JobStatus.COMPLETED.value, jobs_t.c.completed_at.isnot(None))
            .order_by(jobs_t.c.completed_at.desc())
            .limit(limit)
        )
        with self._connect() as conn:
            return [(done - created).total_seconds() for created, done in conn.execute(query)]

    # --- changing state -----------------------------------------------------------------

    def apply(self, job_id: str, move: Move, *, now: datetime | None = None) -> Job | None:
        """Apply ``move`` if the job is still in one of its source states (and, for news of a
        generation, still has that generation); None if not."""
        now = now or utcnow()
        values: dict[str, Any] = {
            "status": move.target.value,
            "updated_at": now,
            "progress_message": move.message or MESSAGES[move.target],
            **move.values,
        }
        progress = move.progress if move.progress is not None else PROGRESS.get(move.target)
        if progress is not None:
            values["progress"] = progress
        if move.target in TERMINAL_STATES:
            values.update(next_run_at=None, lease_owner=None, lease_until=None)
            if move.target is JobStatus.COMPLETED:
                values["completed_at"] = now
        guard = None if move.generation_id is None else jobs_t.c.luma_generation_id == move.generation_id
        return self._compare_and_set(job_id, [s.value for s in move.sources], values, now, guard)

    def report_progress(
        self,
        job_id: str,
        status: JobStatus,
        progress: int,
        message: str,
        *,
        now: datetime | None = None,
    ) -> Job | None:
        """A progress step within a state (processing 80–99): one event, no state change."""
        now = now or utcnow()
        values = {"progress": progress, "progress_message": message, "updated_at": now}
        return self._compare_and_set(job_id, [status.value], values, now)

    def update_fields(self, job_id: str, status: JobStatus, values: dict[str, Any]) -> Job | None:
        """Record facts (ids, keys) on a job still in ``status``; writes no event."""
        with self._begin() as conn:
            row = conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job_id, jobs_t.c.status == status.value)
                .values(values)
                .returning(jobs_t)
            ).first()
        return _job(row) if row else None

    def _compare_and_set(
        self,
        job_id: str,
        sources: list[str],
        values: dict[str, Any],
        now: datetime,
        guard: sa.ColumnElement[bool] | None = None,
    ) -> Job | None:
        statement = (
            jobs_t.update()
            .where(jobs_t.c.id == job_id, jobs_t.c.status.in_(sources), *([] if guard is None else [guard]))
            .values(values)
            .returning(jobs_t)
        )
        with self._begin() as conn:
            row = conn.execute(statement).first()
            if row is None:
                return None
            job = _job(row)
            event_id = self._insert_event(conn, job, now)
        self._notify(job, event_id)
        return job

    def _insert_event(self, conn: Connection, job: Job, now: datetime) -> int:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENTS_LOCK_KEY})
        event_id = conn.execute(
            job_events.insert()
            .values(
                job_id=job.id,
                user_id=job.user_id,
                status=job.status.value,
                progress=job.progress,
                message=job.progress_message,
                created_at=now,
            )
            .returning(job_events.c.id)
        ).scalar_one()
        self._enqueue_webhook(conn, job, now)
        if conn.dialect.name == "postgresql":
            # Delivered at commit to every listening process; ids only (payloads max 8000 bytes).
            payload = json.dumps({"job_id": job.id, "user_id": job.user_id, "event_id": int(event_id)})
            conn.execute(
                sa.text("SELECT pg_notify(:channel, :payload)"),
                {"channel": EVENTS_CHANNEL, "payload": payload},
            )
        return int(event_id)

    # --- webhooks out (the outbox) -------------------------------------------------------

    def _enqueue_webhook(self, conn: Connection, job: Job, now: datetime) -> None:
        """One delivery per change the job's endpoint asked for, in the change's transaction."""
        if job.webhook_endpoint_id is None or not (job.is_terminal or job.webhook_events == "all"):
            return
        kind = event_type(job)
        conn.execute(
            webhook_deliveries.insert().values(
                id=str(uuid.uuid4()),
                job_id=job.id,
                endpoint_id=job.webhook_endpoint_id,
                event_type=kind,
                payload={
                    "type": kind,
                    "timestamp": now.isoformat().replace("+00:00", "Z"),
                    "data": summary(job),
                },
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )

    def webhook_endpoint(self, user_id: str, url: str, *, new_secret: Callable[[], str]) -> dict[str, Any]:
        """The user's endpoint for ``url``, made (with a fresh secret) on first use."""
        query = sa.select(webhook_endpoints).where(
            webhook_endpoints.c.user_id == user_id, webhook_endpoints.c.url == url
        )
        with self._connect() as conn:
            row = conn.execute(query).first()
        if row is not None:
            return _endpoint(row)
        values: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "user_id": user_id,
            "url": url,
            "secret": new_secret(),
            "created_at": utcnow(),
            "disabled_at": None,
        }
        try:
            with self._begin() as conn:
                conn.execute(webhook_endpoints.insert().values(values))
        except sa.exc.IntegrityError:  # made by a concurrent request: use that one
            with self._connect() as conn:
                return _endpoint(conn.execute(query).one())
        return values

    def webhook_endpoints_of(self, user_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(webhook_endpoints)
            .where(webhook_endpoints.c.user_id == user_id)
            .order_by(webhook_endpoints.c.created_at.desc())
        )
        with self._connect() as conn:
            return [_endpoint(row) for row in conn.execute(query)]

    def webhook_endpoint_by_id(self, endpoint_id: str) -> dict[str, Any] | None:
        with self._connect() as conn:
            row = conn.execute(
                sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id)
            ).first()
        return _endpoint(row) if row else None

    def disable_webhook_endpoint(self, endpoint_id: str) -> None:
        with self._begin() as conn:
            conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(disabled_at=utcnow())
            )

    def claim_delivery(self, *, lease_seconds: float, now: datetime | None = None) -> dict[str, Any] | None:
        """Take one due delivery; pushing its next attempt out by the lease is the lease."""
        now = now or utcnow()
        due = (
            sa.select(webhook_deliveries.c.id)
            .where(
                webhook_deliveries.c.next_attempt_at.isnot(None), webhook_deliveries.c.next_attempt_at <= now
            )
            .order_by(webhook_deliveries.c.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == due, webhook_deliveries.c.next_attempt_at <= now)
            .values(
                next_attempt_at=now + timedelta(seconds=lease_seconds),
                attempts=webhook_deliveries.c.attempts + 1,
            )
            .returning(webhook_deliveries)
        )
        with self._begin() as conn:
            row = conn.execute(statement).first()
        return _delivery(row) if row else None

    def finish_delivery(
        self,
        delivery_id: str,
        *,
        status: str,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "last_status_code": status_code,
            "last_error": error,
            "next_attempt_at": next_attempt_at,
        }
        if status == "succeeded":
            values["delivered_at"] = utcnow()
        with self._begin() as conn:
            conn.execute(
                webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(values)
            )

    def deliveries_for(self, job_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(webhook_deliveries)
            .where(webhook_deliveries.c.job_id == job_id)
            .order_by(webhook_deliveries.c.created_at, webhook_deliveries.c.id)
        )
        with self._connect() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def redeliver(self, job_id: str, delivery_id: str) -> dict[str, Any] | None:
        """Send a delivery again now, whatever became of it."""
        if not _is_uuid(delivery_id):
            return None  # PostgreSQL's uuid column refuses to compare with anything else
        statement = (
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.job_id == job_id)
            .values(status="pending", next_attempt_at=utcnow(), attempts=0)
            .returning(webhook_deliveries)
        )
        with self._begin() as conn:
            row = conn.execute(statement).first()
        return _delivery(row) if row else None

    # --- the queue ----------------------------------------------------------------------

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
        due = (
            sa.select(jobs_t.c.id)
            .where(
                jobs_t.c.next_run_at.isnot(None),
                jobs_t.c.next_run_at <= now,
                jobs_t.c.status.in_([s.value for s in ACTIVE_STATES]),
                sa.or_(jobs_t.c.lease_until.is_(None), jobs_t.c.lease_until < now),
                _room_for_new_jobs(caps, send_new, now),
            )
            .order_by(jobs_t.c.next_run_at)
            .limit(1)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        statement = (
            jobs_t.update()
            .where(
                jobs_t.c.id == due,
                sa.or_(jobs_t.c.lease_until.is_(None), jobs_t.c.lease_until < now),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            .returning(jobs_t)
        )
        with self._begin() as conn:
            row = conn.execute(statement).first()
        return _job(row) if row else None

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
        with self._begin() as conn:
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
                today = conn.execute(
                    sa.select(
                        jobs_t.c.model, jobs_t.c.resolution, jobs_t.c.aspect_ratio, jobs_t.c.duration
                    ).where(_sent_since(start_of_day(now)), others)
                ).all()
                spent = total_cost_usd(today)
                if spent + total_cost_usd([job]) > caps.daily_budget_usd:
                    return "daily_budget"
            conn.execute(jobs_t.update().where(jobs_t.c.id == job_id).values(submitted_at=now))
        return None

    def provider_usage(self, now: datetime | None = None) -> dict[str, Any]:
        """The account's use as the caps count it, for ``/healthz``."""
        now = now or utcnow()
        with self._connect() as conn:
            in_flight = conn.execute(sa.select(sa.func.count()).where(_in_flight())).scalar_one()
            last_minute = conn.execute(
                sa.select(sa.func.count()).where(_sent_since(now - timedelta(minutes=1)))
            ).scalar_one()
        spent = total_cost_usd(self.submitted_since(start_of_day(now)))
        return {
            "inFlight": int(in_flight),
            "sentLastMinute": int(last_minute),
            "spentTodayUsd": round(spent, 4),
        }

    def oldest_send_since(self, since: datetime) -> datetime | None:
        """When the oldest create sent since ``since`` went out (the per-minute window opens a
        minute after it)."""
        with self._connect() as conn:
            return conn.execute(
                sa.select(sa.func.min(jobs_t.c.submitted_at)).where(_sent_since(since))
            ).scalar()

    def queue_position(self, job: Job) -> int | None:
        """Where a job not yet sent to the provider stands among those waiting (1: next)."""
        return self.queue_positions([job]).get(job.id)

    def queue_positions(self, jobs: list[Job]) -> dict[str, int]:
        """Positions of those of ``jobs`` not yet sent, in one query (a page of a listing).

        Counts other users' jobs too, so it runs as the service, and says nothing but numbers.
        """
        waiting = [job for job in jobs if job.status is JobStatus.PENDING and job.submitted_at is None]
        if not waiting:
            return {}
        line = sa.select(jobs_t.c.created_at, jobs_t.c.id).where(_waiting_to_send())
        with self.engine.connect() as conn:
            ahead = sorted((created, str(job_id)) for created, job_id in conn.execute(line))
        return {job.id: bisect.bisect_left(ahead, (job.created_at, job.id)) + 1 for job in waiting}

    def renew_lease(self, job_id: str, owner: str, *, lease_seconds: float) -> bool:
        until = utcnow() + timedelta(seconds=lease_seconds)
        with self._begin() as conn:
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
        with self._begin() as conn:
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
        with self._begin() as conn:
            conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job_id, jobs_t.c.status == status.value)
                .values(next_run_at=when)
            )

    # --- per-user limits ------------------------------------------------------------------

    def user_usage(
        self, user_id: str, *, since_hour: datetime, since_day: datetime | None, hour_limit: int = 0
    ) -> dict[str, Any]:
        """What the user has running and has asked for lately (for the limits): the times of
        the last hour's jobs only once there are ``hour_limit`` of them, the day's jobs only
        when asked for (``since_day``: a daily budget is set)."""
        active = [s.value for s in ACTIVE_STATES]
        with self._connect() as conn:
            # One pass over the user's jobs for both counts (a submission runs this every time).
            active_count, hour_count = conn.execute(
                sa.select(
                    sa.func.count().filter(jobs_t.c.status.in_(active)),
                    sa.func.count().filter(jobs_t.c.created_at >= since_hour),
                ).where(jobs_t.c.user_id == user_id)
            ).one()
            # The times only at the limit, to say when a slot frees (Retry-After).
            hour = (
                conn.execute(
                    sa.select(jobs_t.c.created_at)
                    .where(jobs_t.c.user_id == user_id, jobs_t.c.created_at >= since_hour)
                    .order_by(jobs_t.c.created_at)
                )
                .scalars()
                .all()
                if hour_count >= hour_limit
                else []
            )
            day = (
                []
                if since_day is None
                else conn.execute(
                    sa.select(
                        jobs_t.c.model, jobs_t.c.resolution, jobs_t.c.aspect_ratio, jobs_t.c.duration
                    ).where(
                        jobs_t.c.user_id == user_id,
                        jobs_t.c.created_at >= since_day,
                        jobs_t.c.provider != "import",
                        jobs_t.c.status != JobStatus.CANCELED.value,
                    )
                ).all()
            )
        return {
            "active": int(active_count),
            "created_last_hour_count": int(hour_count),
            "created_last_hour": list(hour),
            "today": [(m, r, a, int(d)) for m, r, a, d in day],
        }

    def requeue(self, job_id: str) -> Job | None:
        """Make an unfinished job due now, whatever lease or backoff held it (admin)."""
        if not _is_uuid(job_id):
            return None
        statement = (
            jobs_t.update()
            .where(jobs_t.c.id == job_id, jobs_t.c.status.in_([s.value for s in ACTIVE_STATES]))
            .values(next_run_at=utcnow(), lease_owner=None, lease_until=None, attempts=0)
            .returning(jobs_t)
        )
        with self._begin() as conn:
            row = conn.execute(statement).first()
        return _job(row) if row else None

    def usage_by_user(self, since: datetime) -> list[dict[str, Any]]:
        """Per user since ``since``: jobs, how they ended, and what they asked the provider for."""
        query = sa.select(
            jobs_t.c.user_id,
            jobs_t.c.status,
            jobs_t.c.provider,
            jobs_t.c.model,
            jobs_t.c.resolution,
            jobs_t.c.aspect_ratio,
            jobs_t.c.duration,
        ).where(jobs_t.c.created_at >= since)
        with self._connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # --- figures for /metrics ------------------------------------------------------------

    def count_by_status(self) -> dict[str, int]:
        query = sa.select(jobs_t.c.status, sa.func.count()).group_by(jobs_t.c.status)
        with self._connect() as conn:
            return {str(status): int(count) for status, count in conn.execute(query)}

    def due_count(self, now: datetime | None = None) -> int:
        """Jobs whose work is due and that no worker holds: the queue's depth."""
        now = now or utcnow()
        query = sa.select(sa.func.count()).where(
            jobs_t.c.next_run_at.isnot(None),
            jobs_t.c.next_run_at <= now,
            sa.or_(jobs_t.c.lease_until.is_(None), jobs_t.c.lease_until < now),
        )
        with self._connect() as conn:
            return int(conn.execute(query).scalar_one())

    def submitted_since(self, since: datetime) -> list[tuple[str, str, str, int]]:
        """(model, resolution, aspect ratio, duration) of each generation submitted since then."""
        query = sa.select(
            jobs_t.c.model, jobs_t.c.resolution, jobs_t.c.aspect_ratio, jobs_t.c.duration
        ).where(jobs_t.c.submitted_at.isnot(None), jobs_t.c.submitted_at >= since)
        with self._connect() as conn:
            return [(m, r, a, int(d)) for m, r, a, d in conn.execute(query)]

    # --- events -------------------------------------------------------------------------

    def events_after(
        self,
        *,
        after_id: int = 0,
        job_id: str | None = None,
        user_id: str | None = None,
        limit: int = 500,
    ) -> list[JobEvent]:
        query = sa.select(job_events).where(job_events.c.id > after_id)
        if job_id is not None:
            if not _is_uuid(job_id):
                return []
            query = query.where(job_events.c.job_id == job_id)
        if user_id is not None:
            query = query.where(job_events.c.user_id == user_id)
        query = query.order_by(job_events.c.id).limit(limit)
        with self._connect() as conn:
            return [_event(row) for row in conn.execute(query)]

    def last_event_id(self) -> int:
        with self._connect() as conn:
            value = conn.execute(sa.select(sa.func.max(job_events.c.id))).scalar()
        return int(value or 0)

    # --- provider callbacks -------------------------------------------------------------

    def record_callback(
        self,
        *,
        job_id: str,
        user_id: str | None,
        generation_id: str | None,
        state: str | None,
        body: Any,
        outcome: str,
        now: datetime | None = None,
    ) -> int:
        with self._begin() as conn:
            callback_id = conn.execute(
                provider_callbacks.insert()
                .values(
                    job_id=job_id,
                    user_id=user_id,
                    generation_id=generation_id,
                    state=state,
                    body=body,
                    outcome=outcome,
                    received_at=now or utcnow(),
                )
                .returning(provider_callbacks.c.id)
            ).scalar_one()
        return int(callback_id)

    def unconfirmed_generation_ids(self, job_id: str) -> list[str]:
        """Generation ids named by callbacks that arrived before the job knew its own."""
        query = (
            sa.select(provider_callbacks.c.generation_id)
            .where(
                provider_callbacks.c.job_id == job_id,
                provider_callbacks.c.outcome == "unconfirmed",
                provider_callbacks.c.generation_id.isnot(None),
            )
            .distinct()
        )
        with self._connect() as conn:
            return [str(value) for value in conn.execute(query).scalars()]

    def callbacks_for(self, job_id: str) -> list[dict[str, Any]]:
        query = (
            sa.select(provider_callbacks)
            .where(provider_callbacks.c.job_id == job_id)
            .order_by(provider_callbacks.c.id)
        )
        with self._connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # --- retention ----------------------------------------------------------------------

    def _finished_before(self, cutoff: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(
            jobs_t.c.status.in_([status.value for status in TERMINAL_STATES]),
            jobs_t.c.updated_at < cutoff,
        )

    def finished_before(self, cutoff: datetime, limit: int = 100) -> list[str]:
        """Ids of jobs finished (completed, failed, canceled) before ``cutoff`` that retention
        has not forgotten yet. A job's events are deleted last, so "still has events" is the
        mark of work left; the scan reads the events table, which retention keeps short."""
        query = (
            sa.select(job_events.c.job_id)
            .join(jobs_t, jobs_t.c.id == job_events.c.job_id)
            .where(self._finished_before(cutoff))
            .distinct()
            .limit(limit)
        )
        with self._connect() as conn:
            return [str(job_id) for job_id in conn.execute(query).scalars()]

    def forget_finished(self, job_ids: list[str], cutoff: datetime) -> int:
        """Delete the events and provider callbacks of these jobs, in one transaction, and drop
        their stored-clip key (the clip is gone: a retry answers "no paid clip"). Only jobs
        still finished before ``cutoff`` are touched (one retried meanwhile is left alone).
        Idempotent: a second run, or another worker's at the same time, deletes nothing more.
        Returns the number of events deleted."""
        if not job_ids:
            return 0
        still = sa.select(jobs_t.c.id).where(jobs_t.c.id.in_(job_ids), self._finished_before(cutoff))
        with self._begin() as conn:
            conn.execute(provider_callbacks.delete().where(provider_callbacks.c.job_id.in_(still)))
            conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id.in_(job_ids), self._finished_before(cutoff))
                .where(jobs_t.c.source_object_key.isnot(None))
                .values(source_object_key=None)
            )
            deleted = conn.execute(job_events.delete().where(job_events.c.job_id.in_(still))).rowcount
        return int(deleted or 0)

    def delete_orphan_callbacks_before(self, cutoff: datetime) -> int:
        """Callbacks received before ``cutoff`` that name no job of ours (refused ones)."""
        known = sa.select(jobs_t.c.id).where(jobs_t.c.id == provider_callbacks.c.job_id)
        with self._begin() as conn:
            result = conn.execute(
                provider_callbacks.delete().where(
                    provider_callbacks.c.received_at < cutoff, ~sa.exists(known)
                )
            )
        return int(result.rowcount or 0)


class KeyReused(Exception):
    """An Idempotency-Key came back with a different request body."""


class KeyInFlight(Exception):
    """Another request with this Idempotency-Key was being handled at the same time."""


_WRITE_LOCKS: dict[int, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def new_job_row(
    spec: JobSpec, *, job_id: str, user_id: str, provider: str, now: datetime, run_at: datetime | None = None
) -> dict[str, Any]:
    """The row a new job is inserted as: ``pending`` and due at ``run_at`` (default now), or
    ``processing`` for an import (the user's own video: no model in between)."""
    values: dict[str, Any] = {
        "id": job_id,
        "user_id": user_id,
        "project_id": spec.project_id,
        "prompt": spec.prompt,
        "provider_prompt": spec.provider_prompt,
        "width": spec.width,
        "height": spec.height,
        "color_count": spec.color_count,
        "fps": spec.fps,
        "duration": spec.duration,
        "model": spec.model,
        "resolution": spec.resolution,
        "aspect_ratio": spec.aspect_ratio,
        "loop": spec.loop,
        "dither": spec.dither,
        "fit": spec.fit,
        "provider": provider,
        "status": JobStatus.PENDING.value,
        "progress": PROGRESS[JobStatus.PENDING],
        "progress_message": MESSAGES[JobStatus.PENDING],
        "luma_video_url": spec.source_url,
        "webhook_endpoint_id": spec.webhook_endpoint_id,
        "webhook_events": spec.webhook_events,
        "keyframe_object_key": spec.keyframe_object_key,
        "source_object_key": spec.source_object_key,
        "created_at": now,
        "updated_at": now,
        "next_run_at": run_at or now,  # enqueued in the same transaction as the insert
        "attempts": 0,
    }
    if spec.is_import:
        values.update(
            provider="import",
            status=JobStatus.PROCESSING.value,
            progress=PROGRESS[JobStatus.PROCESSING],
            progress_message="Importing video...",
        )
    return values


def start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


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


def _room_for_new_jobs(caps: ProviderCaps | None, send_new: bool, now: datetime) -> sa.ColumnElement[bool]:
    """The claim's gate for jobs not yet sent: true for every other job, and for these only
    while the caps have room (the reservation checks again, serialized)."""
    room: list[sa.ColumnElement[bool]] = []
    if not send_new:
        room.append(sa.false())
    if caps is not None and caps.max_in_flight is not None:
        in_flight = sa.select(sa.func.count()).where(_in_flight()).scalar_subquery()
        room.append(in_flight < caps.max_in_flight)
    if caps is not None and caps.creates_per_minute is not None:
        recent = sa.select(sa.func.count()).where(_sent_since(now - timedelta(minutes=1))).scalar_subquery()
        room.append(recent < caps.creates_per_minute)
    if not room:
        return sa.true()
    return sa.or_(sa.not_(_waiting_to_send()), sa.and_(*room))


def _sqlite_write_lock(engine: Engine) -> threading.RLock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(id(engine), threading.RLock())


def _endpoint(row: Row[Any]) -> dict[str, Any]:
    data = dict(row._mapping)
    data["id"] = str(uuid.UUID(str(data["id"])))
    return data


def _delivery(row: Row[Any]) -> dict[str, Any]:
    data = dict(row._mapping)
    for key in ("id", "job_id", "endpoint_id"):
        data[key] = str(uuid.UUID(str(data[key])))
    return data


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _job(row: Row[Any]) -> Job:
    data = row._mapping
    values = {name: data[name] for name in JOB_FIELDS if name in data}
    values["id"] = str(uuid.UUID(str(data["id"])))
    if values.get("webhook_endpoint_id"):
        values["webhook_endpoint_id"] = str(uuid.UUID(str(values["webhook_endpoint_id"])))
    return Job(status=JobStatus(data["status"]), **values)


def _event(row: Row[Any]) -> JobEvent:
    data = row._mapping
    return JobEvent(
        id=int(data["id"]),
        job_id=str(uuid.UUID(str(data["job_id"]))),
        user_id=data["user_id"],
        status=JobStatus(data["status"]),
        progress=int(data["progress"]),
        message=data["message"],
        created_at=data["created_at"],
    )
