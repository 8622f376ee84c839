"""A job's events: written with every change of the job, read by streams in id order.

Every change of a job writes its ``job_events`` row in the change's own transaction, so no
change goes unrecorded; listeners hear of it after the commit.
"""

from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pixelmotion.jobs.models import Job, JobEvent
from pixelmotion.store.rows import event_of, is_uuid
from pixelmotion.store.tables import job_events
from pixelmotion.store.tx import Database
from pixelmotion.store.webhooks import enqueue_delivery

# Commit-ordered event ids on PostgreSQL: a sequence hands out ids at insert, not at commit,
# so two transactions could commit out of order and a reader resuming after id N would
# skip the later-committed smaller id. This lock, taken just before the event insert and
# held to commit, keeps ids in commit order.
EVENTS_LOCK_KEY = 0x706D6576656E7473  # "pmevents"
EVENTS_CHANNEL = "pixelmotion_events"


def insert_event(conn: Connection, job: Job, now: datetime) -> int:
    """The job's event as it now is, its webhook delivery, and (PostgreSQL) a NOTIFY at commit."""
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
    enqueue_delivery(conn, job, now)
    if conn.dialect.name == "postgresql":
        # Delivered at commit to every listening process; ids only (payloads max 8000 bytes).
        payload = json.dumps({"job_id": job.id, "user_id": job.user_id, "event_id": int(event_id)})
        conn.execute(
            sa.text("SELECT pg_notify(:channel, :payload)"), {"channel": EVENTS_CHANNEL, "payload": payload}
        )
    return int(event_id)


class Events:
    def __init__(self, db: Database) -> None:
        self._db = db

    def after(
        self,
        *,
        after_id: int = 0,
        job_id: str | None = None,
        user_id: str | None = None,
        limit: int = 500,
    ) -> list[JobEvent]:
        """Events after ``after_id`` in id (commit) order, of one job or one user's jobs."""
        query = sa.select(job_events).where(job_events.c.id > after_id)
        if job_id is not None:
            if not is_uuid(job_id):
                return []
            query = query.where(job_events.c.job_id == job_id)
        if user_id is not None:
            query = query.where(job_events.c.user_id == user_id)
        query = query.order_by(job_events.c.id).limit(limit)
        with self._db.connect() as conn:
            return [event_of(row) for row in conn.execute(query)]

    def last_id(self) -> int:
        with self._db.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(job_events.c.id))).scalar()
        return int(value or 0)
