"""Events keep their writing transaction's id (PostgreSQL): readers follow (txid, id) up to
their snapshot's xmin, so writers no longer take one global lock to commit ids in order

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.add_column("job_events", sa.Column("txid", sa.BigInteger))  # unused: one writer
        return
    # Events written before: txid 0, older than any transaction to come; in id order.
    op.add_column("job_events", sa.Column("txid", sa.BigInteger, nullable=False, server_default="0"))
    op.alter_column("job_events", "txid", server_default=sa.text("pg_current_xact_id()::text::bigint"))
    op.create_index("idx_job_events_txid", "job_events", ["txid", "id"])
    op.create_index("idx_job_events_job_txid", "job_events", ["job_id", "txid", "id"])
    op.create_index("idx_job_events_user_txid", "job_events", ["user_id", "txid", "id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("idx_job_events_user_txid", "idx_job_events_job_txid", "idx_job_events_txid"):
            op.drop_index(name, table_name="job_events")
    op.drop_column("job_events", "txid")
