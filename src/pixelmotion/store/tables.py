"""The database tables, as SQLAlchemy Core. The plan's ``video_generation_jobs`` keeps every
column it named; the columns below the marker are what the queue and the worker need."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on both databases.

    SQLite has no time zones: values are stored as naive UTC so that text comparison in
    SQL (``next_run_at <= :now``) orders them correctly.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware values")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType: Any = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
EventId: Any = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only

STATUSES = ("pending", "queued", "dreaming", "processing", "completed", "failed", "canceled")

video_generation_jobs = sa.Table(
    "video_generation_jobs",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("project_id", sa.Text),
    sa.Column("prompt", sa.Text, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("color_count", sa.Integer, nullable=False),
    sa.Column("fps", sa.Integer, nullable=False),
    sa.Column("duration", sa.Integer, nullable=False, server_default="5"),
    sa.Column("luma_generation_id", sa.Text),
    sa.Column("luma_video_url", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("progress", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress_message", sa.Text),
    sa.Column("error_code", sa.Text),
    sa.Column("error_message", sa.Text),
    sa.Column("error_details", JSONType),
    sa.Column("total_frames", sa.Integer),
    sa.Column("frame_storage_urls", JSONType),
    sa.Column("frame_data", JSONType),
    sa.Column("processing_time_ms", sa.Integer),
    sa.Column("luma_processing_time_ms", sa.Integer),
    sa.Column("frame_processing_time_ms", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("completed_at", UTCDateTime),
    # --- what the work needs, beyond the plan ---
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("resolution", sa.Text, nullable=False),
    sa.Column("aspect_ratio", sa.Text, nullable=False),
    sa.Column("loop", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("provider_prompt", sa.Text, nullable=False),
    sa.Column("dither", sa.Text, nullable=False, server_default="none"),
    sa.Column("fit", sa.Text, nullable=False, server_default="crop"),
    sa.Column("submitted_at", UTCDateTime),
    sa.Column("source_object_key", sa.Text),  # our copy of the paid clip
    sa.Column("keyframe_object_key", sa.Text),  # the user's image the clip starts from
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    # Generations replaced after a failure Luma refunds ("Job failed"): at most one.
    sa.Column("resubmits", sa.Integer, nullable=False, server_default="0"),
    # Signed webhooks out: where to POST this job's changes, and which ("terminal" or "all").
    sa.Column("webhook_endpoint_id", sa.Uuid(as_uuid=False)),
    sa.Column("webhook_events", sa.Text),
    sa.Column("next_run_at", UTCDateTime),  # NULL: no work due (terminal, or waiting on nothing)
    sa.Column("lease_owner", sa.Text),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("retried_at", UTCDateTime),  # the last retry: the deadline counts from it
    # Canvas choices (0010): the fixed palette (JSON list of #rrggbb), background, loop mode.
    sa.Column("palette", JSONType),
    sa.Column("background", sa.Text, nullable=False, server_default="keep"),
    sa.Column("key_color", sa.Text),
    sa.Column("loop_mode", sa.Text, nullable=False, server_default="none"),
    sa.Column("parent_job_id", sa.Uuid(as_uuid=False)),  # a re-render's parent job
    sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})", name="status"),
    sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress"),
)

# The plan's indexes, plus "my jobs, newest first" and the claim query's.
# With status: a user's running jobs, counted for the limits at every submission (migration 0016).
sa.Index("idx_video_jobs_user_id", video_generation_jobs.c.user_id, video_generation_jobs.c.status)
sa.Index("idx_video_jobs_status", video_generation_jobs.c.status)
sa.Index("idx_video_jobs_created_at", video_generation_jobs.c.created_at.desc())
sa.Index("idx_video_jobs_luma_generation_id", video_generation_jobs.c.luma_generation_id, unique=True)
sa.Index(
    "idx_video_jobs_user_created",
    video_generation_jobs.c.user_id,
    video_generation_jobs.c.created_at.desc(),
)
sa.Index(
    "idx_video_jobs_due",
    video_generation_jobs.c.next_run_at,
    postgresql_where=video_generation_jobs.c.next_run_at.isnot(None),
    sqlite_where=video_generation_jobs.c.next_run_at.isnot(None),
)
sa.Index(
    "idx_video_jobs_submitted_at",
    video_generation_jobs.c.submitted_at,
    postgresql_where=video_generation_jobs.c.submitted_at.isnot(None),
    sqlite_where=video_generation_jobs.c.submitted_at.isnot(None),
)
# The waiting line (pending, not yet sent) in line order: a job's place is a count over it.
sa.Index(
    "idx_video_jobs_waiting",
    video_generation_jobs.c.status,
    video_generation_jobs.c.created_at,
    video_generation_jobs.c.id,
    video_generation_jobs.c.submitted_at,  # always NULL here: lets SQLite count from the index alone
    postgresql_where=sa.text("status = 'pending' AND submitted_at IS NULL"),
    sqlite_where=sa.text("status = 'pending' AND submitted_at IS NULL"),
)

job_events = sa.Table(
    "job_events",
    metadata,
    sa.Column("id", EventId, primary_key=True, autoincrement=True),
    sa.Column(
        "job_id",
        sa.Uuid(as_uuid=False),
        sa.ForeignKey("video_generation_jobs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("progress", sa.Integer, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # PostgreSQL: the writing transaction's id; readers follow (txid, id) (store/events.py).
    sa.Column("txid", sa.BigInteger),
    sqlite_autoincrement=True,  # ids never reused, so Last-Event-ID stays meaningful
)
sa.Index("idx_job_events_job_id", job_events.c.job_id, job_events.c.id)
sa.Index("idx_job_events_user_id", job_events.c.user_id, job_events.c.id)
# PostgreSQL also orders events by (txid, id): its indexes are made by migration 0013 only.

provider_callbacks = sa.Table(
    "provider_callbacks",
    metadata,
    sa.Column("id", EventId, primary_key=True, autoincrement=True),
    sa.Column("job_id", sa.Uuid(as_uuid=False), nullable=False),
    sa.Column("user_id", sa.Text),
    sa.Column("generation_id", sa.Text),
    sa.Column("state", sa.Text),
    sa.Column("body", JSONType),  # secrets redacted
    sa.Column("outcome", sa.Text, nullable=False),  # applied / ignored / unconfirmed / refused
    sa.Column("received_at", UTCDateTime, nullable=False),
    sqlite_autoincrement=True,
)
sa.Index("idx_provider_callbacks_job_id", provider_callbacks.c.job_id, provider_callbacks.c.id)

# Idempotency-Key on POST /v1/jobs: the same key and body from the same user give one job.
idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("user_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("fingerprint", sa.Text, nullable=False),  # sha256 of the request body
    sa.Column(
        "job_id",
        sa.Uuid(as_uuid=False),
        sa.ForeignKey("video_generation_jobs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Webhooks out (Standard Webhooks): a user's endpoints, each with its own signing secret.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),  # whsec_...; shown to its owner only
    sa.Column("disabled_at", UTCDateTime),  # set when the receiver answers 410 Gone
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("user_id", "url"),
)

# The outbox: one row per message, written in the same transaction as the job's change.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Uuid(as_uuid=False), primary_key=True),  # the webhook-id header
    sa.Column(
        "job_id",
        sa.Uuid(as_uuid=False),
        sa.ForeignKey("video_generation_jobs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("endpoint_id", sa.Uuid(as_uuid=False), nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),  # job.completed, job.failed, job.progress...
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("status", sa.Text, nullable=False),  # pending / succeeded / failed
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),  # NULL once finished
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime),
)
sa.Index("idx_webhook_deliveries_job_id", webhook_deliveries.c.job_id, webhook_deliveries.c.created_at)
sa.Index(
    "idx_webhook_deliveries_due",
    webhook_deliveries.c.next_attempt_at,
    postgresql_where=webhook_deliveries.c.next_attempt_at.isnot(None),
    sqlite_where=webhook_deliveries.c.next_attempt_at.isnot(None),
)

# Each upload a user kept: counted for the user's upload rate and quota, and deleted when no
# job used it within PIXELMOTION_UNUSED_UPLOAD_HOURS (the object is ``uploads/{user}/{id}``).
uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime),  # when a job first named it; never used: it expires
    sa.Index("ix_uploads_user_created", "user_id", "created_at"),
)
