"""Rows to domain records and back: a job's row, an event's, and the row a new job is."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Row

from pixelmotion.jobs.models import Job, JobEvent, JobSpec
from pixelmotion.jobs.states import MESSAGES, PROGRESS, JobStatus

JOB_FIELDS = {f.name for f in fields(Job)} - {"extra", "status"}
R = TypeVar("R")


def utcnow() -> datetime:
    return datetime.now(UTC)


def start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def is_uuid(value: str) -> bool:
    """Whether ``value`` can name a row: PostgreSQL's uuid column refuses to compare with
    anything else (an error, not "no row")."""
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def uuid_text(value: Any) -> str:
    return str(uuid.UUID(str(value)))


def record_of(kind: type[R], row: Row[Any], *, ids: tuple[str, ...] = ("id",)) -> R:
    """A frozen record from a row: its fields by name, the ``ids`` columns as UUID text."""
    data = row._mapping
    values = {f.name: data[f.name] for f in fields(kind)}  # type: ignore[arg-type]
    values.update({name: uuid_text(values[name]) for name in ids})
    return kind(**values)


def first_due(
    column: sa.ColumnElement[Any], order: sa.ColumnElement[Any], *conditions: sa.ColumnElement[bool]
) -> sa.ScalarSelect[Any]:
    """The first row (by ``order``) that meets ``conditions``, for a claim: PostgreSQL's SKIP
    LOCKED lets racing claimers pass each other's rows; SQLite renders no FOR UPDATE and its
    single writer serializes the claim."""
    query = sa.select(column).where(*conditions).order_by(order).limit(1)
    return query.with_for_update(skip_locked=True).scalar_subquery()


def job_of(row: Row[Any]) -> Job:
    return job_from(row._asdict())  # a plain dict: a row's own mapping looks keys up slowly


def job_from(data: Mapping[Any, Any]) -> Job:
    """A job from its column values (a row read, or the values just inserted)."""
    values = {name: data[name] for name in JOB_FIELDS if name in data}
    values["id"] = uuid_text(data["id"])
    for name in ("webhook_endpoint_id", "parent_job_id"):
        if values.get(name):
            values[name] = uuid_text(values[name])
    return Job(status=JobStatus(data["status"]), **values)


def event_of(row: Row[Any]) -> JobEvent:
    data = row._mapping
    return JobEvent(
        id=int(data["id"]),
        job_id=uuid_text(data["job_id"]),
        user_id=data["user_id"],
        status=JobStatus(data["status"]),
        progress=int(data["progress"]),
        message=data["message"],
        created_at=data["created_at"],
    )


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
        "palette": list(spec.palette) if spec.palette is not None else None,
        "background": spec.background,
        "key_color": spec.key_color,
        "loop_mode": spec.loop_mode,
        "parent_job_id": spec.parent_job_id,
        "created_at": now,
        "updated_at": now,
        "next_run_at": run_at or now,  # enqueued in the same transaction as the insert
        "attempts": 0,
        "resubmits": 0,
    }
    if spec.is_import:
        values.update(
            provider="import",
            status=JobStatus.PROCESSING.value,
            progress=PROGRESS[JobStatus.PROCESSING],
            progress_message="Re-rendering the stored clip..."
            if spec.parent_job_id
            else "Importing video...",
        )
    return values
