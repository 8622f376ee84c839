"""Row Level Security for the rest of a user's rows: webhook endpoints and deliveries.

After 0006 a user could read their jobs, events and idempotency keys; endpoints had no RLS
at all and deliveries none a user could read, so the routes that list them ran as the service
with hand-written filters. Now a user's store reads its own endpoints (``user_id``) and the
deliveries of its own jobs, and makes endpoints; only the service updates or deletes (a
user's store changes its own rows as the service, with an owner condition in the query).
Provider callbacks stay the service's alone. PostgreSQL only.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("GRANT SELECT, INSERT ON webhook_endpoints TO pixelmotion_user")
    op.execute("ALTER TABLE webhook_endpoints ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE webhook_endpoints FORCE ROW LEVEL SECURITY")
    op.execute(
        "DO $$ BEGIN EXECUTE format('CREATE POLICY service_all ON webhook_endpoints FOR ALL TO %I "
        "USING (true) WITH CHECK (true)', current_user); END $$"
    )
    op.execute(
        "CREATE POLICY users_select_own ON webhook_endpoints FOR SELECT TO pixelmotion_user "
        "USING (user_id = pixelmotion_uid())"
    )
    op.execute(
        "CREATE POLICY users_insert_own ON webhook_endpoints FOR INSERT TO pixelmotion_user "
        "WITH CHECK (user_id = pixelmotion_uid())"
    )
    op.execute("GRANT SELECT ON webhook_deliveries TO pixelmotion_user")
    op.execute(
        "CREATE POLICY users_select_own ON webhook_deliveries FOR SELECT TO pixelmotion_user "
        "USING (job_id IN (SELECT id FROM video_generation_jobs))"  # itself limited to own jobs
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY IF EXISTS users_select_own ON webhook_deliveries")
    op.execute("REVOKE SELECT ON webhook_deliveries FROM pixelmotion_user")
    for policy in ("service_all", "users_select_own", "users_insert_own"):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON webhook_endpoints")
    op.execute("ALTER TABLE webhook_endpoints NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE webhook_endpoints DISABLE ROW LEVEL SECURITY")
    op.execute("REVOKE ALL ON webhook_endpoints FROM pixelmotion_user")
