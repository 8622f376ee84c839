"""Row Level Security on PostgreSQL: users see and insert only their own rows.

Outside Supabase there is no ``auth.uid()``: ``pixelmotion_uid()`` reads the ``sub`` of the
claims each API request sets (``set_config('request.jwt.claims', …, true)``) before it runs
``SET LOCAL ROLE pixelmotion_user``, a NOLOGIN role that owns nothing. The role the service
connects with (the one running this migration) keeps full access through its own policies.
SQLite has no RLS; there the repository's ``WHERE user_id`` is the only guard.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OWN_ROWS = ("video_generation_jobs", "job_events", "idempotency_keys")  # have a user_id column
RLS_TABLES = (*OWN_ROWS, "webhook_deliveries", "provider_callbacks")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION pixelmotion_uid() RETURNS text
        LANGUAGE sql STABLE AS $$
            SELECT nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
        $$
        """
    )
    op.execute(
        """
        DO $$ BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pixelmotion_user') THEN
                CREATE ROLE pixelmotion_user NOLOGIN NOBYPASSRLS;
            END IF;
        END $$
        """
    )
    op.execute("DO $$ BEGIN EXECUTE format('GRANT pixelmotion_user TO %I', current_user); END $$")
    op.execute(
        "DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO pixelmotion_user', current_schema()); END $$"
    )
    op.execute("GRANT EXECUTE ON FUNCTION pixelmotion_uid() TO pixelmotion_user")
    for table in OWN_ROWS:
        op.execute(f"GRANT SELECT, INSERT ON {table} TO pixelmotion_user")
    op.execute("GRANT INSERT ON webhook_deliveries TO pixelmotion_user")  # the outbox of own jobs
    op.execute("GRANT USAGE ON SEQUENCE job_events_id_seq TO pixelmotion_user")
    for table in RLS_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
        # The service (workers, callbacks, admin) acts as the role that owns the tables.
        op.execute(
            f"DO $$ BEGIN EXECUTE format('CREATE POLICY service_all ON {table} FOR ALL TO %I "
            f"USING (true) WITH CHECK (true)', current_user); END $$"
        )
    # The plan's policies: users select and insert their own rows; only the service updates.
    op.execute(
        "CREATE POLICY users_insert_own ON webhook_deliveries FOR INSERT TO pixelmotion_user "
        "WITH CHECK (job_id IN (SELECT id FROM video_generation_jobs))"  # itself limited to own jobs
    )
    for table in OWN_ROWS:
        op.execute(
            f"CREATE POLICY users_select_own ON {table} FOR SELECT TO pixelmotion_user "
            "USING (user_id = pixelmotion_uid())"
        )
        op.execute(
            f"CREATE POLICY users_insert_own ON {table} FOR INSERT TO pixelmotion_user "
            "WITH CHECK (user_id = pixelmotion_uid())"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in RLS_TABLES:
        op.execute(f"DROP POLICY IF EXISTS service_all ON {table}")
        op.execute(f"DROP POLICY IF EXISTS users_select_own ON {table}")
        op.execute(f"DROP POLICY IF EXISTS users_insert_own ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    for table in (*OWN_ROWS, "webhook_deliveries"):
        op.execute(f"REVOKE ALL ON {table} FROM pixelmotion_user")
