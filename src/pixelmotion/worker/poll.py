"""The worker's ``poll`` step (queued, dreaming): callbacks are overdue, so ask the provider
where the generation stands and apply its answer as if it were a callback; and the job's
deadline, which every step keeps (a job is failed, and its generation dropped, once past it)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

from pixelmotion.app.callbacks import apply_generation, deadline_of, names_job
from pixelmotion.app.jobs import delete_generation
from pixelmotion.jobs import moves
from pixelmotion.jobs.models import Job
from pixelmotion.providers.base import Generation, GenerationNotFound, ProviderError, VideoProvider
from pixelmotion.worker.backoff import backoff_seconds
from pixelmotion.worker.outages import STORAGE_FAILURES, storage_code_waited_for
from pixelmotion.worker.ports import StepPorts

logger = logging.getLogger(__name__)

MAX_POLL_INTERVAL = 60.0
LIST_PAGE = 100
LIST_MAX_PAGES = 20


async def poll(ports: StepPorts, job: Job) -> None:
    """Callbacks are overdue: ask the provider, apply its answer as if it were a callback."""
    if past_deadline(ports, job):
        await expire(ports, job)
        return
    moved = await refresh_from_provider(ports, job)
    if moved is None or moved.status is job.status:
        delay = min(MAX_POLL_INTERVAL, backoff_seconds(job.attempts, base=5.0, cap=MAX_POLL_INTERVAL))
        await asyncio.to_thread(
            ports.store.queue.release,
            job.id,
            ports.owner,
            reschedule=(job.status, by_deadline(ports, job, ports.clock() + timedelta(seconds=delay))),
            failed_attempt=True,
        )


async def refresh_from_provider(ports: StepPorts, job: Job) -> Job | None:
    if job.luma_generation_id is None:
        return None
    try:
        generation = await ports.provider.get(job.luma_generation_id)
    except GenerationNotFound:
        # Only if the job still has this generation: it may have been sent again meanwhile.
        move = moves.lost(job.luma_generation_id)
        return await asyncio.to_thread(ports.store.jobs.apply, job.id, move)
    except ProviderError as error:
        logger.warning("job %s: could not ask the provider (%s)", job.id, error.message)
        if error.status is None and error.retryable:  # no answer at all: /healthz says so
            ports.provider_health.mark_failing(f"provider unreachable: {error.message}")
        return None
    ports.provider_health.mark_ok()
    current = await asyncio.to_thread(ports.store.jobs.get, job.id)
    if current is None:
        return None
    return await asyncio.to_thread(
        apply_generation,
        ports.store,
        current,
        generation,
        grace_seconds=ports.settings.callback_grace_seconds,
        deadline_seconds=ports.settings.job_deadline_seconds,
        now=ports.clock(),
    )


async def generations_since(provider: VideoProvider, since: datetime) -> list[Generation]:
    """The provider's generations created since ``since`` (a minute's margin for clocks),
    paging back through its newest-first list: with many jobs in flight, the one we look
    for may be far from the top."""
    found: list[Generation] = []
    oldest_wanted = since - timedelta(minutes=1)
    for page in range(LIST_MAX_PAGES):
        batch = await provider.list_recent(limit=LIST_PAGE, offset=page * LIST_PAGE)
        found.extend(batch)
        if len(batch) < LIST_PAGE or any(_created(g) < oldest_wanted for g in batch):
            break
    return found


def _created(generation: Generation) -> datetime:
    try:
        moment = datetime.fromisoformat((generation.created_at or "").replace("Z", "+00:00"))
    except ValueError:
        return datetime.max.replace(tzinfo=UTC)  # unknown: keep paging rather than stop early
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- deadline --------------------------------------------------------------------------


def by_deadline(ports: StepPorts, job: Job, when: datetime) -> datetime:
    """``when``, or the job's deadline if that comes first: a job is never left asleep past
    its deadline (the claim loop fails it then)."""
    deadline = deadline_of(job, ports.settings.job_deadline_seconds)
    return when if deadline is None else min(when, deadline)


def past_deadline(ports: StepPorts, job: Job) -> bool:
    return (ports.clock() - job.attempt_started_at).total_seconds() > ports.settings.job_deadline_seconds


async def expire(ports: StepPorts, job: Job) -> None:
    """Fail a job past its deadline and stop paying for its generation. A job that was
    waiting for our storage fails with that reason (STORAGE_FULL, STORAGE_UNAVAILABLE)."""
    storage = storage_code_waited_for(job)
    if storage is not None:
        move = moves.failed(storage, STORAGE_FAILURES[storage])
    else:
        move = moves.timed_out(ports.settings.job_deadline_seconds)
    moved = await asyncio.to_thread(ports.store.jobs.apply, job.id, move)
    if moved is None:
        return
    logger.warning("job %s: timed out in %s", job.id, job.status.value)
    if job.luma_generation_id:
        await delete_generation(ports.provider, job.luma_generation_id)
    elif job.attempts > 0 or job.resubmits > 0:
        # An earlier create may have reached the provider without our learning its id.
        await delete_unrecorded_generations(ports, job)


async def delete_unrecorded_generations(ports: StepPorts, job: Job) -> None:
    """Delete unfinished generations made for this job whose ids it never recorded."""
    provider = ports.provider
    try:
        recent = await generations_since(provider, job.submitted_at or job.created_at)
    except ProviderError as error:
        logger.warning("job %s: could not list generations to clean up (%s)", job.id, error.message)
        return
    for generation in recent:
        if generation.state in ("queued", "dreaming") and names_job(generation, job.id):
            await delete_generation(provider, generation.id)
