"""initial schema

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from pixelmotion.store.tables import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_callbacks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=True),
        sa.Column("generation_id", sa.Text(), nullable=True),
        sa.Column("state", sa.Text(), nullable=True),
        sa.Column(
            "body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_callbacks")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("provider_callbacks", schema=None) as batch_op:
        batch_op.create_index("idx_provider_callbacks_job_id", ["job_id", "id"], unique=False)

    op.create_table(
        "video_generation_jobs",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("project_id", sa.Text(), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("color_count", sa.Integer(), nullable=False),
        sa.Column("fps", sa.Integer(), nullable=False),
        sa.Column("duration", sa.Integer(), server_default="5", nullable=False),
        sa.Column("luma_generation_id", sa.Text(), nullable=True),
        sa.Column("luma_video_url", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("progress", sa.Integer(), server_default="0", nullable=False),
        sa.Column("progress_message", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Text(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column(
            "error_details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("total_frames", sa.Integer(), nullable=True),
        sa.Column(
            "frame_storage_urls",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "frame_data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("luma_processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("frame_processing_time_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.Column("provider", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("aspect_ratio", sa.Text(), nullable=False),
        sa.Column("loop", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("provider_prompt", sa.Text(), nullable=False),
        sa.Column("dither", sa.Text(), server_default="none", nullable=False),
        sa.Column("fit", sa.Text(), server_default="crop", nullable=False),
        sa.Column("submitted_at", UTCDateTime(), nullable=True),
        sa.Column("source_object_key", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'queued', 'dreaming', 'processing', 'completed', 'failed', 'canceled')",
            name=op.f("ck_video_generation_jobs_status"),
        ),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name=op.f("ck_video_generation_jobs_progress")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_video_generation_jobs")),
    )
    with op.batch_alter_table("video_generation_jobs", schema=None) as batch_op:
        batch_op.create_index(
            "idx_video_jobs_created_at", [sa.literal_column("created_at DESC")], unique=False
        )
        batch_op.create_index(
            "idx_video_jobs_due",
            ["next_run_at"],
            unique=False,
            postgresql_where=sa.text("next_run_at IS NOT NULL"),
            sqlite_where=sa.text("next_run_at IS NOT NULL"),
        )
        batch_op.create_index("idx_video_jobs_luma_generation_id", ["luma_generation_id"], unique=True)
        batch_op.create_index("idx_video_jobs_status", ["status"], unique=False)
        batch_op.create_index(
            "idx_video_jobs_user_created",
            ["user_id", sa.literal_column("created_at DESC")],
            unique=False,
        )
        batch_op.create_index("idx_video_jobs_user_id", ["user_id"], unique=False)

    op.create_table(
        "job_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("job_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["video_generation_jobs.id"],
            name=op.f("fk_job_events_job_id_video_generation_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.create_index("idx_job_events_job_id", ["job_id", "id"], unique=False)
        batch_op.create_index("idx_job_events_user_id", ["user_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        batch_op.drop_index("idx_job_events_user_id")
        batch_op.drop_index("idx_job_events_job_id")

    op.drop_table("job_events")
    with op.batch_alter_table("video_generation_jobs", schema=None) as batch_op:
        batch_op.drop_index("idx_video_jobs_user_id")
        batch_op.drop_index("idx_video_jobs_user_created")
        batch_op.drop_index("idx_video_jobs_status")
        batch_op.drop_index("idx_video_jobs_luma_generation_id")
        batch_op.drop_index(
            "idx_video_jobs_due",
            postgresql_where=sa.text("next_run_at IS NOT NULL"),
            sqlite_where=sa.text("next_run_at IS NOT NULL"),
        )
        batch_op.drop_index("idx_video_jobs_created_at")

    op.drop_table("video_generation_jobs")
    with op.batch_alter_table("provider_callbacks", schema=None) as batch_op:
        batch_op.drop_index("idx_provider_callbacks_job_id")

    op.drop_table("provider_callbacks")
