"""Canvas choices: a fixed palette, background removal, the loop mode, re-renders' parent

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pixelmotion.store.tables import JSONType

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("video_generation_jobs") as batch_op:
        batch_op.add_column(sa.Column("palette", JSONType, nullable=True))
        batch_op.add_column(sa.Column("background", sa.Text(), server_default="keep", nullable=False))
        batch_op.add_column(sa.Column("key_color", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("loop_mode", sa.Text(), server_default="none", nullable=False))
        batch_op.add_column(sa.Column("parent_job_id", sa.Uuid(as_uuid=False), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("video_generation_jobs") as batch_op:
        for column in ("parent_job_id", "loop_mode", "key_color", "background", "palette"):
            batch_op.drop_column(column)
