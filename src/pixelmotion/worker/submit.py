"""The worker's ``submit`` step (pending): ask the provider for a clip, once.

Before creating, look for a generation already made for this job (none is paid twice); wait
while an earlier create may still land; hold the job back while the provider account's caps
are full; then create, and record the generation id (pending → queued).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta

from pixelmotion.app.callbacks import apply_generation, names_job
from pixelmotion.jitter import jitter
from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.objects.uploads import split_upload_key
from pixelmotion.providers.base import Generation, GenerationRequest, ProviderError
from pixelmotion.providers.caps import Hold
from pixelmotion.security import callback_url, keyframe_url
from pixelmotion.store.rows import start_of_day
from pixelmotion.worker.backoff import backoff_seconds
from pixelmotion.worker.poll import by_deadline, generations_since, refresh_from_provider
from pixelmotion.worker.ports import StepPorts

logger = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 8
MIN_SETTLE_SECONDS = 5.0


async def submit(ports: StepPorts, job: Job) -> None:
    try:
        if await adopt_existing_generation(ports, job):
            return
    except ProviderError as error:
        logger.warning("job %s: could not look for an earlier generation (%s)", job.id, error.message)
        await submit_failed(ports, job, error)
        return
    if await earlier_create_may_land(ports, job):
        return
    request = GenerationRequest(
        prompt=job.provider_prompt,
        model=job.model,
        resolution=job.resolution,
        duration=f"{job.duration}s",
        aspect_ratio=job.aspect_ratio,
        loop=job.loop,
        # A keyed scene needs a still camera: Luma's "static" concept (issue 14).
        concepts=("static",) if job.background == "remove" else (),
        callback_url=callback_url(ports.settings.callback_base_url, ports.settings.secret_key, job.id),
        keyframe_url=keyframe_link(ports, job),
    )
    # Take a slot under the account's caps, which marks the create as possibly in flight
    # before sending it: if this worker dies before it records the answer, whoever takes the
    # job over looks for the generation first.
    if await hold_back(ports, job):
        return
    try:
        generation = await ports.provider.create(request)
    except ProviderError as error:
        if not error.ambiguous:  # surely not created: nothing is in flight any more
            await asyncio.to_thread(
                ports.store.jobs.update_fields, job.id, JobStatus.PENDING, {"submitted_at": None}
            )
        await submit_failed(ports, job, error)
        return
    ports.provider_health.mark_ok()
    await record_submitted(ports, job, generation)


async def hold_back(ports: StepPorts, job: Job) -> bool:
    """Reserve one of the provider account's slots for this job's create, or say why it must
    wait in ``pending``.

    A held job keeps its ``next_run_at`` (for a job never tried before, when it was made): the
    claim's gate (``Queue.claim``) passes over unsent jobs while the caps are full or sending
    is paused, and once there is room the claim takes the earliest ``next_run_at`` first. So
    the jobs waiting go out in the order they came, whichever was last held back; moving the
    held one's ``next_run_at`` on would let a later job pass it."""
    admission = ports.admission
    if admission.credits.low:
        hold = Hold(
            "credits", "Waiting: the provider account's credit is low.", ports.clock() + CREDIT_RECHECK
        )
    else:
        reason = await asyncio.to_thread(
            ports.store.queue.reserve_provider_slot, job.id, admission.caps, now=ports.clock()
        )
        if reason is None:
            return False
        if reason == "not_pending":
            return True
        hold = await asyncio.to_thread(hold_for, ports, reason)
    logger.info("job %s: held in pending (%s)", job.id, hold.reason)
    admission.hold(hold)
    if job.progress_message != hold.message:
        await asyncio.to_thread(
            ports.store.jobs.report_progress, job.id, JobStatus.PENDING, job.progress, hold.message
        )
    return True


CREDIT_RECHECK = timedelta(seconds=60)


def hold_for(ports: StepPorts, reason: str) -> Hold:
    now = ports.clock()
    caps = ports.admission.caps
    if reason == "in_flight":
        message = f"Waiting: {caps.max_in_flight} videos are being generated, the most at once."
        return Hold(reason, message, now + timedelta(seconds=ports.settings.worker_poll_seconds))
    if reason == "per_minute":
        oldest = ports.store.queue.oldest_send_since(now - timedelta(minutes=1))
        opens = (oldest or now) + timedelta(minutes=1)
        message = (
            f"Waiting: {caps.creates_per_minute} videos were started in the last minute, the most allowed."
        )
        return Hold(reason, message, max(opens, now + timedelta(seconds=0.1)))
    tomorrow = start_of_day(now) + timedelta(days=1)
    message = "Waiting: today's generation budget is spent; this job starts after 00:00 UTC."
    return Hold(reason, message, tomorrow)


KEYFRAME_LINK_SECONDS = 3600


def keyframe_link(ports: StepPorts, job: Job) -> str | None:
    """A signed link, valid for an hour, through which the provider fetches the job's keyframe."""
    if not job.keyframe_object_key:
        return None
    owner, upload_id = split_upload_key(job.keyframe_object_key)
    expires = int(time.time()) + KEYFRAME_LINK_SECONDS
    return keyframe_url(ports.settings.public_url, ports.settings.secret_key, owner, upload_id, expires)


async def record_submitted(ports: StepPorts, job: Job, generation: Generation) -> None:
    """Store the generation id (pending → queued), then apply any news that raced ahead."""
    repository = ports.store
    now = ports.clock()
    check_at = by_deadline(ports, job, now + timedelta(seconds=ports.settings.callback_grace_seconds))
    move = moves.submitted(generation.id, now=now, check_at=check_at)
    queued = await asyncio.to_thread(repository.jobs.apply, job.id, move)
    if queued is None:
        # Canceled while we were submitting: drop the generation rather than leave it running.
        logger.info("job %s: no longer pending after submit; deleting generation %s", job.id, generation.id)
        try:
            await ports.provider.delete(generation.id)
        except ProviderError:
            logger.warning("job %s: could not delete generation %s", job.id, generation.id)
        return
    logger.info("job %s: submitted as generation %s", job.id, generation.id)
    await asyncio.to_thread(
        apply_generation,
        repository,
        queued,
        generation,
        grace_seconds=ports.settings.callback_grace_seconds,
        deadline_seconds=ports.settings.job_deadline_seconds,
        now=ports.clock(),
    )
    if generation.id in await asyncio.to_thread(repository.callbacks.unconfirmed_generation_ids, job.id):
        # A callback beat our commit; the provider's current answer covers whatever it said.
        await refresh_from_provider(ports, queued)


def settle_seconds(ports: StepPorts) -> float:
    """How long a create whose answer we lost may take to show up in the provider's list:
    a request still queued in front of the provider when we gave up is created later."""
    return max(MIN_SETTLE_SECONDS, 3 * ports.settings.provider_timeout_seconds)


async def earlier_create_may_land(ports: StepPorts, job: Job) -> bool:
    """A create was sent for this job and its answer lost (a timeout, a crash), and it has
    not shown up yet: wait and look again rather than create (and pay) a second time."""
    if job.submitted_at is None:
        return False
    waited = (ports.clock() - job.submitted_at).total_seconds()
    settle = settle_seconds(ports)
    if waited >= settle:
        return False
    delay = min(settle - waited, max(1.0, settle / 4))
    logger.info("job %s: an earlier create may still land; looking again in %.1fs", job.id, delay)
    when = by_deadline(ports, job, ports.clock() + timedelta(seconds=delay))
    await asyncio.to_thread(
        ports.store.queue.release, job.id, ports.owner, reschedule=(JobStatus.PENDING, when)
    )
    return True


async def adopt_existing_generation(ports: StepPorts, job: Job) -> bool:
    """Before creating, find a generation already made for this job, so none is paid twice:
    one named by a callback that beat our commit, or (after an earlier attempt that may have
    reached the provider) one in the provider's recent list whose callback URL names the job.
    """
    provider = ports.provider
    candidates: list[Generation] = []
    for generation_id in await asyncio.to_thread(ports.store.callbacks.unconfirmed_generation_ids, job.id):
        try:
            candidates.append(await provider.get(generation_id))
        except ProviderError:
            continue
    # attempts > 0: an earlier create failed, perhaps after reaching the provider;
    # submitted_at while pending: a create was sent and its answer never recorded (a crash).
    adoptable = [g for g in candidates if g.state != "failed" and names_job(g, job.id)]
    if not adoptable and (job.attempts > 0 or job.submitted_at is not None):
        # A failure here propagates: creating without having looked could pay twice.
        recent = await generations_since(provider, job.submitted_at or job.created_at)
        adoptable = [g for g in recent if g.state != "failed" and names_job(g, job.id)]
    if not adoptable:
        return False
    generation = adoptable[0]
    ports.provider_health.mark_ok()  # it answered
    logger.info("job %s: adopting generation %s made for it earlier", job.id, generation.id)
    await record_submitted(ports, job, generation)
    return True


async def submit_failed(ports: StepPorts, job: Job, error: ProviderError) -> None:
    repository = ports.store
    if error.auth:
        # Our key is wrong: nothing the job did. It waits in pending until the key works.
        ports.provider_health.mark_failing(f"provider refused our API key (HTTP {error.status})")
        logger.error("provider refused the API key (HTTP %s); jobs wait in pending", error.status)
        when = ports.clock() + timedelta(seconds=ports.settings.auth_retry_seconds)
        when = by_deadline(ports, job, when)
        await asyncio.to_thread(
            repository.queue.release, job.id, ports.owner, reschedule=(JobStatus.PENDING, when)
        )
        return
    if unreachable(error):
        await wait_for_provider(ports, job, error)
        return
    if (error.retryable or error.ambiguous) and job.attempts + 1 < MAX_SUBMIT_ATTEMPTS:
        delay = backoff_seconds(job.attempts, retry_after=error.retry_after)
        logger.warning("job %s: submit failed (%s); retrying in %.1fs", job.id, error.message, delay)
        when = ports.clock() + timedelta(seconds=delay)
        await asyncio.to_thread(
            repository.queue.release,
            job.id,
            ports.owner,
            reschedule=(JobStatus.PENDING, by_deadline(ports, job, when)),
            failed_attempt=True,
        )
        return
    if error.retryable or error.ambiguous:
        code = ErrorCode.PROVIDER_UNAVAILABLE
        message = f"The video model stayed unavailable after {job.attempts + 1} tries: {error.message}"
    else:
        code = ErrorCode.PROVIDER_REJECTED
        message = f"The video model refused the request: {error.message}"
    await asyncio.to_thread(
        repository.jobs.apply, job.id, moves.failed(code, message, {"status": error.status})
    )


UNREACHABLE_WAIT_CAP = 60.0


def unreachable(error: ProviderError) -> bool:
    """No answer at all (refused, DNS, timed out): the provider is away, not the request bad."""
    return (error.retryable or error.ambiguous) and error.status is None


async def wait_for_provider(ports: StepPorts, job: Job, error: ProviderError) -> None:
    """The provider is unreachable: the job waits in pending, saying why (here and in
    /healthz), for as long as its deadline allows; no attempt is counted, since a long outage
    says nothing about the job. An ambiguous create keeps ``submitted_at``, so the next try
    looks for that generation before creating (nothing is paid twice)."""
    health = ports.provider_health
    health.mark_failing(f"provider unreachable: {error.message}")
    since = health.snapshot().get("since") or time.time()
    # The longer it has been away, the longer we wait between tries, up to a minute.
    ceiling = min(UNREACHABLE_WAIT_CAP, max(5.0, (time.time() - since) / 2))
    delay = max(jitter(ceiling / 2, ceiling), error.retry_after or 0.0)
    logger.warning("job %s: provider unreachable (%s); trying again in %.1fs", job.id, error.message, delay)
    message = f"Waiting: the video model is unreachable ({error.message}); trying again shortly..."
    if job.progress_message != message:
        await asyncio.to_thread(
            ports.store.jobs.report_progress, job.id, JobStatus.PENDING, job.progress, message
        )
    when = by_deadline(ports, job, ports.clock() + timedelta(seconds=delay))
    await asyncio.to_thread(
        ports.store.queue.release, job.id, ports.owner, reschedule=(JobStatus.PENDING, when)
    )
