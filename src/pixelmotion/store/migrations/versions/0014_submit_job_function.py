"""PostgreSQL: a plain submission's whole write in one call, ``pixelmotion_submit_job``

A submission took six round trips (BEGIN, the caller's scope and the user's lock, the user's
counts, the job, its event, COMMIT), each a statement for the driver, the pool and the server
to handle: on PostgreSQL it cost twice the CPU of the same submission on SQLite. The function
does the middle four in one: the caller's claims and role (Row Level Security holds inside,
the function runs as its caller), the user's advisory lock, then (each statement of a
volatile function takes a fresh snapshot, so after the lock) the user's counts, the job and
its event. The limits are still checked in Python, on the counts it returns, before COMMIT:
a refused job is rolled back.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SUBMIT_JOB = """
CREATE OR REPLACE FUNCTION pixelmotion_submit_job(
    claims text,                -- the caller's JWT claims; NULL: the service
    lock_key bigint,            -- the user's advisory lock (store/tx.py user_lock_key)
    job jsonb,                  -- the new row, every column given (store/rows.py new_job_row)
    active_states text[],       -- which statuses count as running
    since_hour timestamptz,     -- jobs created since then count against the hourly limit
    newest_events text          -- not NULL: report to the user's newest enabled endpoint, this
)
RETURNS TABLE (
    active bigint,              -- the user's jobs running, before this one
    created_last_hour bigint,   -- the user's jobs created since since_hour, before this one
    event_id bigint,
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


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SUBMIT_JOB)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS pixelmotion_submit_job(text, bigint, jsonb, text[], timestamptz, text)"
        )
