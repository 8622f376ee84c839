"""Retention: what is older than ``PIXELMOTION_RETENTION_DAYS`` is deleted; and, retention on
or off, uploads no job used within ``PIXELMOTION_UNUSED_UPLOAD_HOURS`` (``run_upload_expiry``).

For each job finished (completed, failed or canceled) longer ago than that: its stored
objects (``jobs/{id}/``: results and the paid clip), its ``job_events`` rows and its
``provider_callbacks`` rows. Also uploads written longer ago than that, and logged callbacks
that name no job. The job's row stays (the user still sees that it existed and how it ended);
its results then answer 404.

Every step is idempotent: objects first, then the rows in one transaction, the events last,
because a job that still has events is what marks it as not yet done. A pass that dies half
way is finished by the next one, and two workers running it at once (several workers on one
PostgreSQL) only repeat deletes that find nothing more.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pixelmotion.bootstrap import Services
from pixelmotion.jitter import jitter
from pixelmotion.objects import uploads
from pixelmotion.store.rows import utcnow

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600.0  # how often a worker runs a pass
BATCH = 100  # jobs per query


@dataclass
class RetentionReport:
    jobs: int = 0
    objects: int = 0
    events: int = 0
    uploads: int = 0
    callbacks: int = 0


def retention_pass(services: Services, *, now: datetime | None = None) -> RetentionReport:
    """One whole pass (blocking: run it in a thread). Does nothing when retention is off."""
    report = RetentionReport()
    days = services.settings.retention_days
    if days <= 0:
        return report
    cutoff = (now or utcnow()) - timedelta(days=days)
    repository, store = services.repository, services.store
    while True:
        job_ids = repository.retention.finished_before(cutoff, limit=BATCH)
        if not job_ids:
            break
        for job_id in job_ids:
            report.objects += store.delete_prefix(f"jobs/{job_id}")
        report.events += repository.retention.forget_finished(job_ids, cutoff)
        report.jobs += len(job_ids)
        if len(job_ids) < BATCH:
            break
    report.uploads = store.delete_older_than(uploads.PREFIX, cutoff)
    repository.uploads.forget_before(cutoff)
    report.callbacks = repository.retention.delete_orphan_callbacks_before(cutoff)
    if report.jobs or report.uploads or report.callbacks:
        logger.info(
            "retention: %d jobs older than %s days forgotten (%d objects, %d events), "
            "%d uploads and %d stray callbacks deleted",
            report.jobs,
            f"{days:g}",
            report.objects,
            report.events,
            report.uploads,
            report.callbacks,
        )
    return report


def expire_unused_uploads(services: Services, now: datetime) -> int:
    """Delete the uploads no job used within ``unused_upload_hours`` of their coming: the
    object first, then the row (a pass that dies between them redoes the delete)."""
    cutoff = now - timedelta(hours=services.settings.unused_upload_hours)
    deleted = 0
    while batch := services.repository.uploads.unused_before(cutoff, limit=BATCH):
        for row in batch:
            services.store.delete_prefix(uploads.upload_key(row.user_id, row.id))
        services.repository.uploads.forget([row.id for row in batch])
        deleted += len(batch)
    if deleted:
        logger.info("%d uploads no job used were deleted", deleted)
    return deleted


async def run_retention(services: Services, *, interval_seconds: float = INTERVAL_SECONDS) -> None:
    """A pass now and then every ``interval_seconds`` (with jitter, so workers started together
    spread out), until cancelled. A failed pass is logged and tried again next time."""
    if services.settings.retention_days <= 0:
        return
    await asyncio.sleep(jitter(0, min(60.0, interval_seconds)))
    while True:
        try:
            await asyncio.to_thread(retention_pass, services)
        except Exception:
            logger.exception("retention pass failed; trying again in %.0f s", interval_seconds)
        await asyncio.sleep(interval_seconds * jitter(0.9, 1.1))


async def run_upload_expiry(services: Services, *, interval_seconds: float = INTERVAL_SECONDS) -> None:
    """Delete unused uploads now and then every ``interval_seconds``, retention on or off."""
    await asyncio.sleep(jitter(0, min(60.0, interval_seconds)))
    while True:
        try:
            await asyncio.to_thread(expire_unused_uploads, services, utcnow())
        except Exception:
            logger.exception("upload expiry failed; trying again in %.0f s", interval_seconds)
        await asyncio.sleep(interval_seconds * jitter(0.9, 1.1))
