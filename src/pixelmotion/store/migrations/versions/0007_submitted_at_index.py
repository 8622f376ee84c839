"""Index on submitted_at: the provider's creates-per-minute cap counts the last minute's creates

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "idx_video_jobs_submitted_at",
        "video_generation_jobs",
        ["submitted_at"],
        postgresql_where=sa.text("submitted_at IS NOT NULL"),
        sqlite_where=sa.text("submitted_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("idx_video_jobs_submitted_at", table_name="video_generation_jobs")
