"""PostgreSQL: ``pixelmotion_submit_job`` refuses at the user's limits itself, so a plain
submission is one statement in a transaction of its own

0014's function returned the user's counts and left the limits to Python, between it and
COMMIT: three round trips (BEGIN, the call, COMMIT). Given the counts at which the user is
refused (``max_active`` running jobs, ``hour_limit`` created in the hour), the function writes
nothing when either is reached and returns the counts with ``event_id`` NULL; Python then reads
what the refusal needs to say (when a slot frees) and raises. Run with autocommit, the call is
the whole transaction: one round trip, and the advisory lock still held to its end.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SUBMIT_JOB = """
CREATE FUNCTION pixelmotion_submit_job(
    claims text,                -- the caller's JWT claims; NULL: the service
    lock_key bigint,            -- the user's advisory lock (store/tx.py user_lock_key)
    job jsonb,                  -- the new row, every column given (store/rows.py new_job_row)
    active_states text[],       -- which statuses count as running
    since_hour timestamptz,     -- jobs created since then count against the hourly limit
    newest_events text,         -- not NULL: report to the user's newest enabled endpoint, this
    max_active integer,         -- refused with this many jobs running (app/limits.py)
    hour_limit integer          -- refused with this many jobs created since since_hour
)
RETURNS TABLE (
    active bigint,              -- the user's jobs running, before this one
    created_last_hour bigint,   -- the user's jobs created since since_hour, before this one
    event_id bigint,            -- NULL: refused, nothing written
    webhook_endpoint_id text,
    webhook_events text
)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    new_job video_generation_jobs;
BEGIN
    IF claims IS NOT NULL THEN
        PERFORM set_config('request.jwt.claims', claims, true), set_config('role', 'pixelmotion_user', true);
    END IF;
    PERFORM pg_advisory_xact_lock(lock_key);
    new_job := jsonb_populate_record(NULL::video_generation_jobs, job);
    SELECT count(*) FILTER (WHERE j.status = ANY (active_states)),
           count(*) FILTER (WHERE j.created_at >= since_hour)
      INTO active, created_last_hour
      FROM video_generation_jobs j
     WHERE j.user_id = new_job.user_id;
    IF active >= max_active OR created_last_hour >= hour_limit THEN
        RETURN NEXT;
        RETURN;
    END IF;
    IF newest_events IS NOT NULL AND new_job.webhook_endpoint_id IS NULL THEN
        SELECT e.id INTO new_job.webhook_endpoint_id
          FROM webhook_endpoints e
         WHERE e.user_id = new_job.user_id AND e.disabled_at IS NULL
         ORDER BY e.created_at DESC
         LIMIT 1;
        IF new_job.webhook_endpoint_id IS NOT NULL THEN
            new_job.webhook_events := newest_events;
        END IF;
    END IF;
    INSERT INTO video_generation_jobs SELECT (new_job).*;
    INSERT INTO job_events (job_id, user_id, status, progress, message, created_at)
    VALUES (new_job.id, new_job.user_id, new_job.status, new_job.progress, new_job.progress_message,
            new_job.created_at)
    RETURNING id INTO event_id;
    webhook_endpoint_id := new_job.webhook_endpoint_id::text;
    webhook_events := new_job.webhook_events;
    RETURN NEXT;
END
$$
"""

OLD_SIGNATURE = "pixelmotion_submit_job(text, bigint, jsonb, text[], timestamptz, text)"
NEW_SIGNATURE = "pixelmotion_submit_job(text, bigint, jsonb, text[], timestamptz, text, integer, integer)"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {OLD_SIGNATURE}")
        op.execute(SUBMIT_JOB)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {NEW_SIGNATURE}")
        op.execute(_previous_function())


def _previous_function() -> str:
    """0014's function, from its migration (a version file is not an importable module)."""
    path = Path(__file__).with_name("0014_submit_job_function.py")
    spec = importlib.util.spec_from_file_location("pixelmotion_migration_0014", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.SUBMIT_JOB)
