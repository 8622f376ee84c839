"""Webhooks out: a user's endpoints (each with its signing secret) and the outbox of
deliveries, written in the same transaction as the job change they announce."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from pixelmotion.jobs.models import Job
from pixelmotion.jobs.summary import event_type, summary
from pixelmotion.store.rows import first_due, is_uuid, record_of, utcnow
from pixelmotion.store.tables import video_generation_jobs, webhook_deliveries, webhook_endpoints
from pixelmotion.store.tx import Aggregate


@dataclass(frozen=True)
class WebhookEndpoint:
    id: str
    user_id: str
    url: str
    secret: str
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True)
class WebhookDelivery:
    id: str
    job_id: str
    endpoint_id: str
    event_type: str
    payload: dict[str, Any]
    status: str  # pending / succeeded / failed
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def reports_every_change(webhook_events: str | None) -> bool:
    """Whether an endpoint that asked for these events hears of every change of a job (a new
    job's included), not only of its end."""
    return webhook_events == "all"


def enqueue_delivery(conn: Connection, job: Job, now: datetime) -> None:
    """One delivery per change the job's endpoint asked for, in the change's transaction."""
    if job.webhook_endpoint_id is None or not (job.is_terminal or reports_every_change(job.webhook_events)):
        return
    kind = event_type(job)
    conn.execute(
        webhook_deliveries.insert().values(
            id=str(uuid.uuid4()),
            job_id=job.id,
            endpoint_id=job.webhook_endpoint_id,
            event_type=kind,
            payload={"type": kind, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": summary(job)},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )


def add_endpoint(conn: Connection, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """In a new job's transaction (under its user's lock): the user's endpoint for this URL if
    one was made meanwhile, else this new one."""
    found = find_endpoint(conn, endpoint)
    if found is not None:
        return found
    conn.execute(webhook_endpoints.insert().values(**endpoint.__dict__))
    return endpoint


def find_endpoint(conn: Connection, like: WebhookEndpoint) -> WebhookEndpoint | None:
    """The stored endpoint of ``like``'s user for ``like``'s URL."""
    query = sa.select(webhook_endpoints).where(
        webhook_endpoints.c.user_id == like.user_id, webhook_endpoints.c.url == like.url
    )
    row = conn.execute(query).first()
    return _endpoint(row) if row else None


def newest_enabled_endpoint_id(user_id: sa.ColumnElement[Any]) -> sa.ScalarSelect[Any]:
    """Where a job without a ``webhookUrl`` of its own reports: the id of the user's newest
    endpoint that is not disabled, as a subquery the job's insert carries (no read of its own)."""
    return (
        sa.select(webhook_endpoints.c.id)
        .where(webhook_endpoints.c.user_id == user_id, webhook_endpoints.c.disabled_at.is_(None))
        .order_by(webhook_endpoints.c.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )


def new_endpoint(user_id: str, url: str, new_secret: Callable[[], str]) -> WebhookEndpoint:
    """An endpoint not yet stored, with a fresh secret."""
    return WebhookEndpoint(str(uuid.uuid4()), user_id, url, new_secret(), utcnow())


class Webhooks(Aggregate):
    def _own_jobs(self) -> list[sa.Select[Any]]:
        """For a scoped store: its caller's jobs, the only ones whose deliveries it changes."""
        owned = self._db.owned_by(video_generation_jobs.c.user_id)
        return [sa.select(video_generation_jobs.c.id).where(*owned)] if owned else []

    def endpoint(self, user_id: str, url: str, *, new_secret: Callable[[], str]) -> WebhookEndpoint:
        """The user's endpoint for ``url``, made (with a fresh secret) on first use."""
        found = self.find_endpoint(user_id, url)
        if found is not None:
            return found
        made = new_endpoint(user_id, url, new_secret)
        try:
            with self._db.begin() as conn:
                conn.execute(webhook_endpoints.insert().values(**made.__dict__))
        except sa.exc.IntegrityError:  # made by a concurrent request: use that one
            found = self.find_endpoint(user_id, url)
            assert found is not None
            return found
        return made

    def find_endpoint(self, user_id: str, url: str) -> WebhookEndpoint | None:
        with self._db.connect() as conn:
            return find_endpoint(conn, new_endpoint(user_id, url, lambda: ""))

    def new_endpoint(self, user_id: str, url: str, new_secret: Callable[[], str]) -> WebhookEndpoint:
        """An endpoint to be made with a job (``Jobs.submit``), not stored yet."""
        return new_endpoint(user_id, url, new_secret)

    def endpoints_of(self, user_id: str) -> list[WebhookEndpoint]:
        query = (
            sa.select(webhook_endpoints)
            .where(webhook_endpoints.c.user_id == user_id)
            .order_by(webhook_endpoints.c.created_at.desc())
        )
        with self._db.connect() as conn:
            return [_endpoint(row) for row in conn.execute(query)]

    def endpoint_by_id(self, endpoint_id: str) -> WebhookEndpoint | None:
        if not is_uuid(endpoint_id):
            return None
        row = self._db.first(sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint_id))
        return _endpoint(row) if row else None

    def disable_endpoint(self, endpoint_id: str) -> None:
        with self._db.begin() as conn:
            conn.execute(
                webhook_endpoints.update()
                .where(webhook_endpoints.c.id == endpoint_id)
                .values(disabled_at=utcnow())
            )

    def claim_delivery(self, *, lease_seconds: float, now: datetime | None = None) -> WebhookDelivery | None:
        """Take one due delivery; pushing its next attempt out by the lease is the lease."""
        now = now or utcnow()
        next_attempt = webhook_deliveries.c.next_attempt_at
        due = first_due(webhook_deliveries.c.id, next_attempt, next_attempt.isnot(None), next_attempt <= now)
        statement = (
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == due, webhook_deliveries.c.next_attempt_at <= now)
            .values(
                next_attempt_at=now + timedelta(seconds=lease_seconds),
                attempts=webhook_deliveries.c.attempts + 1,
            )
            .returning(webhook_deliveries)
        )
        with self._db.begin() as conn:
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
        with self._db.begin() as conn:
            conn.execute(
                webhook_deliveries.update().where(webhook_deliveries.c.id == delivery_id).values(values)
            )

    def deliveries_for(self, job_id: str) -> list[WebhookDelivery]:
        if not is_uuid(job_id):
            return []
        query = (
            sa.select(webhook_deliveries)
            .where(webhook_deliveries.c.job_id == job_id)
            .order_by(webhook_deliveries.c.created_at, webhook_deliveries.c.id)
        )
        with self._db.connect() as conn:
            return [_delivery(row) for row in conn.execute(query)]

    def redeliver(self, job_id: str, delivery_id: str) -> WebhookDelivery | None:
        """Send a delivery again now, whatever became of it."""
        if not (is_uuid(delivery_id) and is_uuid(job_id)):
            return None
        statement = (
            webhook_deliveries.update()
            .where(webhook_deliveries.c.id == delivery_id, webhook_deliveries.c.job_id == job_id)
            .where(*[webhook_deliveries.c.job_id.in_(mine) for mine in self._own_jobs()])
            .values(status="pending", next_attempt_at=utcnow(), attempts=0)
            .returning(webhook_deliveries)
        )
        with self._db.begin_as_service() as conn:
            row = conn.execute(statement).first()
        return _delivery(row) if row else None


def _endpoint(row: Row[Any]) -> WebhookEndpoint:
    return record_of(WebhookEndpoint, row)


def _delivery(row: Row[Any]) -> WebhookDelivery:
    return record_of(WebhookDelivery, row, ids=("id", "job_id", "endpoint_id"))
