"""Jobs: insert (with an Idempotency-Key, under the user's limits), read, list, and change.

Every change of a job is a compare-and-set (``UPDATE … WHERE id = :id AND status IN (…)``)
that writes its ``job_events`` row in the same transaction, so a late or repeated callback can
never move a job backwards and no change goes unrecorded.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pixelmotion.jobs.models import Job, JobSpec
from pixelmotion.jobs.moves import Move
from pixelmotion.jobs.states import ACTIVE_STATES, JobStatus
from pixelmotion.store.events import insert_event
from pixelmotion.store.rows import is_uuid, job_from, job_of, new_job_row, utcnow
from pixelmotion.store.tables import idempotency_keys
from pixelmotion.store.tables import video_generation_jobs as jobs_t
from pixelmotion.store.tx import Aggregate
from pixelmotion.store.usage import Gate, read_user_usage, usage_given_counts
from pixelmotion.store.webhooks import (
    WebhookEndpoint,
    add_endpoint,
    find_endpoint,
    newest_enabled_endpoint_id,
    reports_every_change,
)

# Built once, values bound as parameters: SQLAlchemy compiles each once (building an insert
# with .values() per job cost about 0.25 ms of CPU).
_INSERT_JOB = jobs_t.insert()
_NEWEST_ENDPOINT = newest_enabled_endpoint_id(sa.bindparam("endpoint_owner", type_=sa.Text))
# A job that reports to the user's newest enabled endpoint, if there is one.
_INSERT_JOB_TO_NEWEST_ENDPOINT = (
    jobs_t.insert()
    .values(
        webhook_endpoint_id=_NEWEST_ENDPOINT,
        webhook_events=sa.case((_NEWEST_ENDPOINT.is_not(None), sa.bindparam("newest_events", type_=sa.Text))),
    )
    .returning(jobs_t.c.webhook_endpoint_id, jobs_t.c.webhook_events)
)


# The running statuses are written into the statement: a list bound each call cost the driver
# a scan of its items (3 % of a submission's samples).
_ACTIVE_STATUSES = "{" + ",".join(sorted(status.value for status in ACTIVE_STATES)) + "}"
_SUBMIT_JOB = sa.text(
    "SELECT * FROM pixelmotion_submit_job(:claims, :lock_key, CAST(:job AS jsonb),"
    f" '{_ACTIVE_STATUSES}'::text[], :since_hour, :newest_events, :active_limit, :hour_limit)"
).columns(
    # Typed columns: the statement's result shape is compiled once, not read from each cursor.
    sa.column("active", sa.BigInteger),
    sa.column("created_last_hour", sa.BigInteger),
    sa.column("event_id", sa.BigInteger),
    sa.column("webhook_endpoint_id", sa.Text),
    sa.column("webhook_events", sa.Text),
)


def _json_value(value: object) -> str:
    """A new job's values as PostgreSQL reads them from JSON: times in ISO 8601."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


class KeyReused(Exception):
    """An Idempotency-Key came back with a different request body."""


class KeyInFlight(Exception):
    """Another request with this Idempotency-Key was being handled at the same time."""


@dataclass(frozen=True)
class Inserted:
    job: Job
    created: bool  # False: an earlier request with the same Idempotency-Key made ``job``
    endpoint: WebhookEndpoint | None = None  # the job's own webhook endpoint, if it asked for one


class Jobs(Aggregate):
    def _mine(self) -> list[sa.ColumnElement[bool]]:
        """A scoped store changes only its caller's jobs (run as the service: see
        ``Database.begin_as_service``)."""
        return self._db.owned_by(jobs_t.c.user_id)

    # --- creating --------------------------------------------------------------------------

    def create(self, spec: JobSpec, **options: Any) -> Job:
        """A new job alone (no Idempotency-Key, no webhook endpoint): ``submit``'s job."""
        return self.submit(spec, **options).job

    def submit(
        self,
        spec: JobSpec,
        *,
        user_id: str,
        provider: str,
        now: datetime | None = None,
        run_at: datetime | None = None,
        gate: Gate | None = None,
        key: tuple[str, str] | None = None,
        endpoint: WebhookEndpoint | None = None,
        newest_endpoint_events: str | None = None,
    ) -> Inserted:
        """Everything a new job writes, in one transaction: the ``gate`` (the user's limits)
        under the user's lock, the Idempotency-Key (``key``: key and fingerprint), a new webhook
        ``endpoint`` (made here, so a refused request writes nothing), the job, its event.
        Without an ``endpoint``, ``newest_endpoint_events`` (what to report) gives the job the
        user's newest enabled endpoint, if any: the insert carries it as a subquery, no read
        of its own."""
        now = now or utcnow()
        row = new_job_row(
            spec, job_id=str(uuid.uuid4()), user_id=user_id, provider=provider, now=now, run_at=run_at
        )
        if gate is not None and self._in_one_statement(gate, key, endpoint, newest_endpoint_events):
            written = self._submit_in_one_statement(row, gate, newest_endpoint_events)
            if written is not None:
                job, event_id = written
                self._db.notify(job.id, job.user_id, event_id)
                return Inserted(job, True)
            # Refused, yet the counts read since allow it (a job ended meanwhile): checked again below.
        try:
            with self._db.begin_users_turn(user_id) if gate else self._db.begin() as conn:
                if gate is not None:
                    gate.check(read_user_usage(conn, user_id, gate.window))
                if key is not None:
                    existing = _job_for_key(conn, user_id, *key)
                    if existing is not None:
                        return Inserted(existing, False, endpoint and find_endpoint(conn, endpoint))
                if endpoint is not None:
                    endpoint = add_endpoint(conn, endpoint)  # this URL's endpoint, if one was made meanwhile
                    row["webhook_endpoint_id"] = endpoint.id
                # The job is built from the values inserted, not read back: a RETURNING of
                # every column cost the driver a description of 50 columns per submission.
                if endpoint is None and newest_endpoint_events is not None:
                    del row["webhook_endpoint_id"], row["webhook_events"]
                    chosen = conn.execute(
                        _INSERT_JOB_TO_NEWEST_ENDPOINT,
                        {**row, "endpoint_owner": user_id, "newest_events": newest_endpoint_events},
                    ).one()
                    row.update(
                        webhook_endpoint_id=chosen.webhook_endpoint_id, webhook_events=chosen.webhook_events
                    )
                else:
                    conn.execute(_INSERT_JOB, row)
                job = job_from(row)
                if key is not None:
                    conn.execute(
                        idempotency_keys.insert().values(
                            user_id=user_id, key=key[0], fingerprint=key[1], job_id=job.id, created_at=now
                        )
                    )
                event_id = insert_event(conn, job, now)
        except sa.exc.IntegrityError:
            if key is None:
                raise
            raise KeyInFlight(key[0]) from None
        self._db.notify(job.id, job.user_id, event_id)
        return Inserted(job, True, endpoint)

    def _in_one_statement(
        self,
        gate: Gate,
        key: tuple[str, str] | None,
        endpoint: WebhookEndpoint | None,
        newest_endpoint_events: str | None,
    ) -> bool:
        """Whether a checked submission is one call to ``pixelmotion_submit_job`` (PostgreSQL):
        the plain kind, with no Idempotency-Key, no endpoint of its own, no daily budget
        (priced in Python) and no delivery due at once (written in Python)."""
        return (
            self._db.on_postgres
            and key is None
            and endpoint is None
            and gate.window.since_day is None
            and not reports_every_change(newest_endpoint_events)
        )

    def _submit_in_one_statement(
        self, row: dict[str, Any], gate: Gate, newest_events: str | None
    ) -> tuple[Job, int] | None:
        """PostgreSQL, one round trip: ``pixelmotion_submit_job`` (migration 0015), in
        autocommit, is the whole transaction: the caller's scope, the user's lock, the user's
        counts, and unless they reach the gate's limits, the job (to the newest endpoint, if
        asked) and its event. Refused, it writes nothing; ``gate.check`` then raises, on the
        counts and what it needs to say when a slot frees (read afterwards, outside the lock).
        None if it does not raise: the user's usage changed in between."""
        user_id = row["user_id"]
        with self._db.users_turn_for_one_call(user_id) as conn:
            done = conn.execute(
                _SUBMIT_JOB,
                {
                    **self._db.scope_arguments(user_id),
                    "job": json.dumps(row, default=_json_value, separators=(",", ":")),
                    "since_hour": gate.window.since_hour,
                    "newest_events": newest_events,
                    "active_limit": gate.window.active_limit,
                    "hour_limit": gate.window.hour_limit,
                },
            ).one()
        if done.event_id is None:
            counts = done.active, done.created_last_hour
            with self._db.connect() as conn:
                gate.check(usage_given_counts(conn, user_id, gate.window, *counts))
            return None
        row.update(webhook_endpoint_id=done.webhook_endpoint_id, webhook_events=done.webhook_events)
        return job_from(row), int(done.event_id)

    # --- reading ---------------------------------------------------------------------------

    def get(self, job_id: str, *, user_id: str | None = None) -> Job | None:
        if not is_uuid(job_id):
            return None
        query = sa.select(jobs_t).where(jobs_t.c.id == job_id)
        if user_id is not None:
            query = query.where(jobs_t.c.user_id == user_id)
        row = self._db.first(query)
        return job_of(row) if row else None

    def get_by_generation(self, generation_id: str) -> Job | None:
        row = self._db.first(sa.select(jobs_t).where(jobs_t.c.luma_generation_id == generation_id))
        return job_of(row) if row else None

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
        with self._db.connect() as conn:
            return [job_of(row) for row in conn.execute(query)]

    def recent_durations_seconds(self, limit: int = 20) -> list[float]:
        """How long the last completed jobs took, end to end."""
        query = (
            sa.select(jobs_t.c.created_at, jobs_t.c.completed_at)
            .where(jobs_t.c.status == JobStatus.COMPLETED.value, jobs_t.c.completed_at.isnot(None))
            .order_by(jobs_t.c.completed_at.desc())
            .limit(limit)
        )
        with self._db.connect() as conn:
            return [(done - created).total_seconds() for created, done in conn.execute(query)]

    # --- changing state --------------------------------------------------------------------

    def apply(self, job_id: str, move: Move, *, now: datetime | None = None) -> Job | None:
        """Apply ``move`` if the job is still in one of its source states (and, for news of a
        generation, still has that generation); None if not."""
        now = now or utcnow()
        values = {**move.written(now), "status": move.target.value}
        guard = None if move.generation_id is None else jobs_t.c.luma_generation_id == move.generation_id
        return self._compare_and_set(job_id, [s.value for s in move.sources], values, now, guard)

    def report_progress(
        self, job_id: str, status: JobStatus, progress: int, message: str, *, now: datetime | None = None
    ) -> Job | None:
        """A progress step within a state (processing 80–99): one event, no state change."""
        now = now or utcnow()
        values = {"progress": progress, "progress_message": message, "updated_at": now}
        return self._compare_and_set(job_id, [status.value], values, now)

    def update_fields(self, job_id: str, status: JobStatus, values: dict[str, Any]) -> Job | None:
        """Record facts (ids, keys) on a job still in ``status``; writes no event."""
        with self._db.begin_as_service() as conn:
            row = conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id == job_id, jobs_t.c.status == status.value, *self._mine())
                .values(values)
                .returning(jobs_t)
            ).first()
        return job_of(row) if row else None

    def _compare_and_set(
        self,
        job_id: str,
        sources: list[str],
        values: dict[str, Any],
        now: datetime,
        guard: sa.ColumnElement[bool] | None = None,
    ) -> Job | None:
        if not is_uuid(job_id):
            return None
        statement = (
            jobs_t.update()
            .where(jobs_t.c.id == job_id, jobs_t.c.status.in_(sources), *self._mine())
            .where(*([] if guard is None else [guard]))
            .values(values)
            .returning(jobs_t)
        )
        with self._db.begin_as_service() as conn:
            row = conn.execute(statement).first()
            if row is None:
                return None
            job = job_of(row)
            event_id = insert_event(conn, job, now)
        self._db.notify(job.id, job.user_id, event_id)
        return job


def _job_for_key(conn: Connection, user_id: str, key: str, fingerprint: str) -> Job | None:
    query = (
        sa.select(idempotency_keys.c.fingerprint, jobs_t)
        .join(jobs_t, jobs_t.c.id == idempotency_keys.c.job_id)
        .where(idempotency_keys.c.user_id == user_id, idempotency_keys.c.key == key)
    )
    row = conn.execute(query).first()
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise KeyReused(key)
    return job_of(row)
