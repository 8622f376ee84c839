"""uploads: each kept upload, for the per-user upload rate and quota and the expiry of
uploads no job used (issue 17, finding 7). On PostgreSQL a user reads and adds only their own
rows; marking used and deleting run as the service.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pixelmotion.store.tables import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_uploads_user_created", "uploads", ["user_id", "created_at"])
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("GRANT SELECT, INSERT ON uploads TO pixelmotion_user")
    op.execute("ALTER TABLE uploads ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE uploads FORCE ROW LEVEL SECURITY")
    op.execute(
        "DO $$ BEGIN EXECUTE format('CREATE POLICY service_all ON uploads FOR ALL TO %I "
        "USING (true) WITH CHECK (true)', current_user); END $$"
    )
    op.execute(
        "CREATE POLICY users_select_own ON uploads FOR SELECT TO pixelmotion_user "
        "USING (user_id = pixelmotion_uid())"
    )
    op.execute(
        "CREATE POLICY users_insert_own ON uploads FOR INSERT TO pixelmotion_user "
        "WITH CHECK (user_id = pixelmotion_uid())"
    )


def downgrade() -> None:
    op.drop_index("ix_uploads_user_created", table_name="uploads")
    op.drop_table("uploads")
