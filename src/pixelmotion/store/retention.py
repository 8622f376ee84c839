"""Forgetting finished jobs' details after the retention period (the job row stays)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from pixelmotion.jobs.states import TERMINAL_STATES
from pixelmotion.store.tables import job_events, provider_callbacks
from pixelmotion.store.tables import video_generation_jobs as jobs_t
from pixelmotion.store.tx import Aggregate


class Retention(Aggregate):
    def finished_before(self, cutoff: datetime, limit: int = 100) -> list[str]:
        """Ids of jobs finished (completed, failed, canceled) before ``cutoff`` that retention
        has not forgotten yet. A job's events are deleted last, so "still has events" is the
        mark of work left; the scan reads the events table, which retention keeps short."""
        query = (
            sa.select(job_events.c.job_id)
            .join(jobs_t, jobs_t.c.id == job_events.c.job_id)
            .where(_finished_before(cutoff))
            .distinct()
            .limit(limit)
        )
        with self._db.connect() as conn:
            return [str(job_id) for job_id in conn.execute(query).scalars()]

    def forget_finished(self, job_ids: list[str], cutoff: datetime) -> int:
        """Delete the events and provider callbacks of these jobs, in one transaction, and drop
        their stored-clip key (the clip is gone: a retry answers "no paid clip"). Only jobs
        still finished before ``cutoff`` are touched (one retried meanwhile is left alone).
        Idempotent: a second run, or another worker's at the same time, deletes nothing more.
        Returns the number of events deleted."""
        if not job_ids:
            return 0
        still = sa.select(jobs_t.c.id).where(jobs_t.c.id.in_(job_ids), _finished_before(cutoff))
        with self._db.begin() as conn:
            conn.execute(provider_callbacks.delete().where(provider_callbacks.c.job_id.in_(still)))
            conn.execute(
                jobs_t.update()
                .where(jobs_t.c.id.in_(job_ids), _finished_before(cutoff))
                .where(jobs_t.c.source_object_key.isnot(None))
                .values(source_object_key=None)
            )
            deleted = conn.execute(job_events.delete().where(job_events.c.job_id.in_(still))).rowcount
        return int(deleted or 0)

    def delete_orphan_callbacks_before(self, cutoff: datetime) -> int:
        """Callbacks received before ``cutoff`` that name no job of ours (refused ones)."""
        known = sa.select(jobs_t.c.id).where(jobs_t.c.id == provider_callbacks.c.job_id)
        with self._db.begin() as conn:
            result = conn.execute(
                provider_callbacks.delete().where(
                    provider_callbacks.c.received_at < cutoff, ~sa.exists(known)
                )
            )
        return int(result.rowcount or 0)


def _finished_before(cutoff: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        jobs_t.c.status.in_([status.value for status in TERMINAL_STATES]),
        jobs_t.c.updated_at < cutoff,
    )
