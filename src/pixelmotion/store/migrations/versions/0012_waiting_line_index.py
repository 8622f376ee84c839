"""Index on the waiting line (pending jobs not yet sent, by created_at and id): a job's place
in line is a count over this index, not a read of every waiting job

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

WAITING = "status = 'pending' AND submitted_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "idx_video_jobs_waiting",
        "video_generation_jobs",
        ["status", "created_at", "id", "submitted_at"],
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )


def downgrade() -> None:
    op.drop_index("idx_video_jobs_waiting", table_name="video_generation_jobs")
