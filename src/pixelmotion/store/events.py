"""A job's events: written with every change of the job, read by streams in commit order.

Every change of a job writes its ``job_events`` row in the change's own transaction, so no
change goes unrecorded; listeners hear of it after the commit.

Commit order without a lock (PostgreSQL): a sequence hands out ids at insert, not at commit,
so a reader resuming after id N could skip a smaller id committed later. Instead of making
writers take turns, each event keeps its transaction's id (``txid``), and readers follow
(txid, id) and return only events of transactions older than their snapshot's ``xmin`` (all
finished): every transaction still to commit has a txid at or past that ``xmin``, so it can
only add events after those returned. A client's cursor stays the event id (Last-Event-ID):
the reader looks up that event's (txid, id). On SQLite the single writer commits ids in order.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from pixelmotion.jobs.models import Job, JobEvent
from pixelmotion.store.rows import event_of, is_uuid
from pixelmotion.store.tables import job_events
from pixelmotion.store.tx import Aggregate
from pixelmotion.store.webhooks import enqueue_delivery

CURRENT_TXID: sa.ColumnClause[Any] = sa.literal_column("pg_current_xact_id()::text::bigint")
# Transactions below this id are all finished, as this statement's snapshot sees them.
SNAPSHOT_XMIN: sa.ColumnClause[Any] = sa.literal_column(
    "pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
)
SETTLE_WAIT_SECONDS = 1.0  # how long a read waits for an older, still open transaction


def insert_event(conn: Connection, job: Job, now: datetime) -> int:
    """The job's event as it now is, and its webhook delivery. The caller calls
    ``Database.notify`` after the commit (listeners here, NOTIFY to other processes)."""
    statement = _INSERT_EVENT_PG if conn.dialect.name == "postgresql" else _INSERT_EVENT
    row = {
        "job_id": job.id,
        "user_id": job.user_id,
        "status": job.status.value,
        "progress": job.progress,
        "message": job.progress_message,
        "created_at": now,
    }
    event_id = conn.execute(statement, row).scalar_one()
    enqueue_delivery(conn, job, now)
    return int(event_id)


# Built once, values bound per call: SQLAlchemy compiles each once (an insert built with
# .values() per event was a tenth of a submission's store time). PostgreSQL's event keeps its
# transaction's id, which readers follow (see Events.after).
_INSERT_EVENT = job_events.insert().returning(job_events.c.id)
_INSERT_EVENT_PG = job_events.insert().values(txid=CURRENT_TXID).returning(job_events.c.id)


class Events(Aggregate):
    def after(
        self,
        *,
        after_id: int = 0,
        job_id: str | None = None,
        user_id: str | None = None,
        limit: int = 500,
    ) -> list[JobEvent]:
        """Events after the event ``after_id`` in commit order, of one job or one user's jobs."""
        conditions: list[sa.ColumnElement[bool]] = []
        if job_id is not None:
            if not is_uuid(job_id):
                return []
            conditions.append(job_events.c.job_id == job_id)
        if user_id is not None:
            conditions.append(job_events.c.user_id == user_id)
        if not self._db.on_postgres:
            query = sa.select(job_events).where(job_events.c.id > after_id, *conditions)
            with self._db.connect() as conn:
                return [event_of(row) for row in conn.execute(query.order_by(job_events.c.id).limit(limit))]
        return self._settled_after(after_id, conditions, limit)

    def any_after(self, after_id: int, *, job_id: str) -> bool:
        """Whether the job has a committed event after the event ``after_id`` in commit order,
        settled or not: what a resumed stream of a finished job asks before it answers. No wait
        for older transactions still open (``after`` waits for them, briefly): a stream that
        has something to send opens at once and its reads wait instead."""
        if not is_uuid(job_id):
            return False
        mine = [job_events.c.job_id == job_id]
        with self._db.connect() as conn:
            if self._db.on_postgres:
                query = _after_in_commit_order(conn, after_id, mine, 1)
            else:
                query = sa.select(job_events.c.id).where(job_events.c.id > after_id, *mine).limit(1)
            return conn.execute(query).first() is not None

    def _settled_after(
        self, after_id: int, conditions: list[sa.ColumnElement[bool]], limit: int
    ) -> list[JobEvent]:
        """PostgreSQL: the events after ``after_id`` in (txid, id) order whose transactions are
        older than the snapshot's xmin. Committed events past it (a younger transaction
        committed while an older one is still open) are waited for, briefly: a wake-up for
        them would otherwise find nothing and none might follow."""
        deadline = time.monotonic() + SETTLE_WAIT_SECONDS
        while True:
            # A fresh transaction (and the caller's scope) each time: a fresh snapshot.
            with self._db.connect() as conn:
                rows = conn.execute(_after_in_commit_order(conn, after_id, conditions, limit)).all()
            settled = [event_of(row) for row in rows if row.settled]
            if len(settled) == len(rows) or time.monotonic() > deadline:
                return settled
            time.sleep(0.005)

    def last_id(self) -> int:
        """The id of the last event in commit order (0: none yet): a cursor to follow from."""
        query = sa.select(job_events.c.id).order_by(job_events.c.id.desc()).limit(1)
        if self._db.on_postgres:
            query = (
                sa.select(job_events.c.id)
                .where(job_events.c.txid < SNAPSHOT_XMIN)
                .order_by(job_events.c.txid.desc(), job_events.c.id.desc())
                .limit(1)
            )
        with self._db.connect() as conn:
            value = conn.execute(query).scalar()
        return int(value or 0)


def _after_in_commit_order(
    conn: Connection, after_id: int, conditions: list[sa.ColumnElement[bool]], limit: int
) -> sa.Select[Any]:
    """PostgreSQL: events after the event ``after_id`` in (txid, id) order, each marked
    ``settled`` when its transaction is older than the snapshot's xmin."""
    if after_id > 0:
        txid = conn.execute(sa.select(job_events.c.txid).where(job_events.c.id == after_id)).scalar()
        if txid is None:  # an event no longer kept: its id is all we have
            conditions = [*conditions, job_events.c.id > after_id]
        else:
            order = sa.tuple_(job_events.c.txid, job_events.c.id)
            conditions = [*conditions, order > sa.tuple_(sa.literal(txid), sa.literal(after_id))]
    return (
        sa.select(job_events, (job_events.c.txid < SNAPSHOT_XMIN).label("settled"))
        .where(*conditions)
        .order_by(job_events.c.txid, job_events.c.id)
        .limit(limit)
    )
