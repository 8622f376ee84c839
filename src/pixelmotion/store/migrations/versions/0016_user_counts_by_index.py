"""The user's counts a limit check reads cost what the user has running and started in the
hour, not the user's whole history

A submission counted the user's running jobs and the hour's jobs in one pass over every job
the user ever made: with 10,000 finished jobs, 4 ms on SQLite (holding the write lock, which
every user's submissions share) and 5 ms on PostgreSQL, against 0.5 and 1.1 ms with none. The
index on user_id now carries status too, (user_id, status), so the running count reads only the
user's running jobs; the hour's count reads ``idx_video_jobs_user_created``. Each count is its
own subquery, over its own index (``store/usage.py USER_COUNTS``; on PostgreSQL also
``pixelmotion_submit_job``). The index keeps its name (the plan's): everything it served, it
still serves, and a new index beside it would cost every insert.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SUBMIT_JOB = """
CREATE OR REPLACE FUNCTION pixelmotion_submit_job(
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
    -- Two counts, each over its index: the user's running jobs, the hour's jobs.
    SELECT (SELECT count(*) FROM video_generation_jobs j
             WHERE j.user_id = new_job.user_id AND j.status = ANY (active_states)),
           (SELECT count(*) FROM video_generation_jobs j
             WHERE j.user_id = new_job.user_id AND j.created_at >= since_hour)
      INTO active, created_last_hour;
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


def upgrade() -> None:
    _index_user_id_on(["user_id", "status"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(SUBMIT_JOB)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_previous_function())
    _index_user_id_on(["user_id"])


def _index_user_id_on(columns: list[str]) -> None:
    op.drop_index("idx_video_jobs_user_id", table_name="video_generation_jobs")
    op.create_index("idx_video_jobs_user_id", "video_generation_jobs", columns)


def _previous_function() -> str:
    """0015's function, from its migration (a version file is not an importable module)."""
    path = Path(__file__).with_name("0015_submit_job_in_one_statement.py")
    spec = importlib.util.spec_from_file_location("pixelmotion_migration_0015", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.SUBMIT_JOB).replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
