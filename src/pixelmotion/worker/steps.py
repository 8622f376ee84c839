"""The worker's steps, one per kind of due work:

- ``submit``  (pending):          ask the provider for a clip, once.
- ``poll``    (queued/dreaming):  callbacks are overdue; ask the provider where it stands.
- ``process`` (processing):       download the clip, pixelate it, store the results.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pixelmotion.bootstrap import Services
from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import PROCESSING_STEPS, JobStatus
from pixelmotion.media import MediaError, download_video, render_outputs
from pixelmotion.media.guard import AddressGuard
from pixelmotion.objects.uploads import split_upload_key
from pixelmotion.providers.base import (
    Generation,
    GenerationNotFound,
    GenerationRequest,
    ProviderError,
    VideoProvider,
)
from pixelmotion.providers.caps import Hold
from pixelmotion.security import callback_url, keyframe_url
from pixelmotion.service import apply_generation, deadline_of, delete_generation, names_job
from pixelmotion.store.rows import start_of_day, utcnow
from pixelmotion.worker.backoff import backoff_seconds

logger = logging.getLogger(__name__)

MAX_SUBMIT_ATTEMPTS = 8
MIN_SETTLE_SECONDS = 5.0
MAX_PROCESS_ATTEMPTS = 3
# Media errors of a downloaded clip that another download may not have: fetched again.
CLIP_DEFECTS = frozenset({"VIDEO_TRUNCATED", "VIDEO_UNREADABLE"})
MAX_POLL_INTERVAL = 60.0
OUTPUT_TYPES = {
    "sheet": "image/png",
    "sheetJson": "application/json",
    "gif": "image/gif",
    "frames": "application/gzip",
    "indexed": "application/gzip",
}


@dataclass(frozen=True)
class StepContext:
    services: Services
    owner: str


# --- submit --------------------------------------------------------------------------------


async def submit(ctx: StepContext, job: Job) -> None:
    services = ctx.services
    try:
        if await adopt_existing_generation(ctx, job):
            return
    except ProviderError as error:
        logger.warning("job %s: could not look for an earlier generation (%s)", job.id, error.message)
        await submit_failed(ctx, job, error)
        return
    if await earlier_create_may_land(ctx, job):
        return
    request = GenerationRequest(
        prompt=job.provider_prompt,
        model=job.model,
        resolution=job.resolution,
        duration=f"{job.duration}s",
        aspect_ratio=job.aspect_ratio,
        loop=job.loop,
        callback_url=callback_url(services.settings.callback_base_url, services.settings.secret_key, job.id),
        keyframe_url=keyframe_link(services, job),
    )
    # Take a slot under the account's caps, which marks the create as possibly in flight
    # before sending it: if this worker dies before it records the answer, whoever takes the
    # job over looks for the generation first.
    if await hold_back(ctx, job):
        return
    try:
        generation = await services.provider.create(request)
    except ProviderError as error:
        if not error.ambiguous:  # surely not created: nothing is in flight any more
            await asyncio.to_thread(
                services.repository.jobs.update_fields, job.id, JobStatus.PENDING, {"submitted_at": None}
            )
        await submit_failed(ctx, job, error)
        return
    services.provider_health.mark_ok()
    await record_submitted(ctx, job, generation)


async def hold_back(ctx: StepContext, job: Job) -> bool:
    """Reserve one of the provider account's slots for this job's create, or say why it must
    wait (in ``pending``, keeping its place in line) and look again later."""
    services = ctx.services
    admission = services.admission
    if admission.credits.low:
        hold = Hold("credits", "Waiting: the provider account's credit is low.", utcnow() + CREDIT_RECHECK)
    else:
        reason = await asyncio.to_thread(
            services.repository.queue.reserve_provider_slot, job.id, admission.caps
        )
        if reason is None:
            return False
        if reason == "not_pending":
            return True
        hold = await asyncio.to_thread(hold_for, services, reason)
    logger.info("job %s: held in pending (%s)", job.id, hold.reason)
    admission.hold(hold)
    if job.progress_message != hold.message:
        await asyncio.to_thread(
            services.repository.jobs.report_progress, job.id, JobStatus.PENDING, job.progress, hold.message
        )
    await asyncio.to_thread(
        services.repository.queue.schedule, job.id, JobStatus.PENDING, by_deadline(ctx, job, hold.retry_at)
    )
    return True


CREDIT_RECHECK = timedelta(seconds=60)


def hold_for(services: Services, reason: str) -> Hold:
    now = utcnow()
    caps = services.admission.caps
    if reason == "in_flight":
        message = f"Waiting: {caps.max_in_flight} videos are being generated, the most at once."
        return Hold(reason, message, now + timedelta(seconds=services.settings.worker_poll_seconds))
    if reason == "per_minute":
        oldest = services.repository.queue.oldest_send_since(now - timedelta(minutes=1))
        opens = (oldest or now) + timedelta(minutes=1)
        message = (
            f"Waiting: {caps.creates_per_minute} videos were started in the last minute, the most allowed."
        )
        return Hold(reason, message, max(opens, now + timedelta(seconds=0.1)))
    tomorrow = start_of_day(now) + timedelta(days=1)
    message = "Waiting: today's generation budget is spent; this job starts after 00:00 UTC."
    return Hold(reason, message, tomorrow)


KEYFRAME_LINK_SECONDS = 3600


def keyframe_link(services: Services, job: Job) -> str | None:
    """A signed link, valid for an hour, through which the provider fetches the job's keyframe."""
    if not job.keyframe_object_key:
        return None
    owner, upload_id = split_upload_key(job.keyframe_object_key)
    expires = int(time.time()) + KEYFRAME_LINK_SECONDS
    return keyframe_url(services.settings.public_url, services.settings.secret_key, owner, upload_id, expires)


async def record_submitted(ctx: StepContext, job: Job, generation: Generation) -> None:
    """Store the generation id (pending → queued), then apply any news that raced ahead."""
    repository = ctx.services.repository
    now = utcnow()
    check_at = by_deadline(ctx, job, now + timedelta(seconds=ctx.services.settings.callback_grace_seconds))
    move = moves.submitted(generation.id, now=now, check_at=check_at)
    queued = await asyncio.to_thread(repository.jobs.apply, job.id, move)
    if queued is None:
        # Canceled while we were submitting: drop the generation rather than leave it running.
        logger.info("job %s: no longer pending after submit; deleting generation %s", job.id, generation.id)
        try:
            await ctx.services.provider.delete(generation.id)
        except ProviderError:
            logger.warning("job %s: could not delete generation %s", job.id, generation.id)
        return
    logger.info("job %s: submitted as generation %s", job.id, generation.id)
    await asyncio.to_thread(
        apply_generation,
        repository,
        queued,
        generation,
        grace_seconds=ctx.services.settings.callback_grace_seconds,
        deadline_seconds=ctx.services.settings.job_deadline_seconds,
    )
    if generation.id in await asyncio.to_thread(repository.callbacks.unconfirmed_generation_ids, job.id):
        # A callback beat our commit; the provider's current answer covers whatever it said.
        await refresh_from_provider(ctx, queued)


def settle_seconds(ctx: StepContext) -> float:
    """How long a create whose answer we lost may take to show up in the provider's list:
    a request still queued in front of the provider when we gave up is created later."""
    return max(MIN_SETTLE_SECONDS, 3 * ctx.services.settings.provider_timeout_seconds)


async def earlier_create_may_land(ctx: StepContext, job: Job) -> bool:
    """A create was sent for this job and its answer lost (a timeout, a crash), and it has
    not shown up yet: wait and look again rather than create (and pay) a second time."""
    if job.submitted_at is None:
        return False
    waited = (utcnow() - job.submitted_at).total_seconds()
    settle = settle_seconds(ctx)
    if waited >= settle:
        return False
    delay = min(settle - waited, max(1.0, settle / 4))
    logger.info("job %s: an earlier create may still land; looking again in %.1fs", job.id, delay)
    when = by_deadline(ctx, job, utcnow() + timedelta(seconds=delay))
    await asyncio.to_thread(
        ctx.services.repository.queue.release, job.id, ctx.owner, reschedule=(JobStatus.PENDING, when)
    )
    return True


async def adopt_existing_generation(ctx: StepContext, job: Job) -> bool:
    """Before creating, find a generation already made for this job, so none is paid twice:
    one named by a callback that beat our commit, or (after an earlier attempt that may have
    reached the provider) one in the provider's recent list whose callback URL names the job.
    """
    provider = ctx.services.provider
    candidates: list[Generation] = []
    for generation_id in await asyncio.to_thread(
        ctx.services.repository.callbacks.unconfirmed_generation_ids, job.id
    ):
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
    logger.info("job %s: adopting generation %s made for it earlier", job.id, generation.id)
    await record_submitted(ctx, job, generation)
    return True


LIST_PAGE = 100
LIST_MAX_PAGES = 20


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


async def submit_failed(ctx: StepContext, job: Job, error: ProviderError) -> None:
    services = ctx.services
    repository = services.repository
    if error.auth:
        # Our key is wrong: nothing the job did. It waits in pending until the key works.
        services.provider_health.mark_failing(f"provider refused our API key (HTTP {error.status})")
        logger.error("provider refused the API key (HTTP %s); jobs wait in pending", error.status)
        when = utcnow() + timedelta(seconds=services.settings.auth_retry_seconds)
        when = by_deadline(ctx, job, when)
        await asyncio.to_thread(
            repository.queue.release, job.id, ctx.owner, reschedule=(JobStatus.PENDING, when)
        )
        return
    if (error.retryable or error.ambiguous) and job.attempts + 1 < MAX_SUBMIT_ATTEMPTS:
        delay = backoff_seconds(job.attempts, retry_after=error.retry_after)
        logger.warning("job %s: submit failed (%s); retrying in %.1fs", job.id, error.message, delay)
        when = utcnow() + timedelta(seconds=delay)
        await asyncio.to_thread(
            repository.queue.release,
            job.id,
            ctx.owner,
            reschedule=(JobStatus.PENDING, by_deadline(ctx, job, when)),
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


# --- deadline ------------------------------------------------------------------------------


def by_deadline(ctx: StepContext, job: Job, when: datetime) -> datetime:
    """``when``, or the job's deadline if that comes first: a job is never left asleep past
    its deadline (the claim loop fails it then)."""
    deadline = deadline_of(job, ctx.services.settings.job_deadline_seconds)
    return when if deadline is None else min(when, deadline)


def past_deadline(ctx: StepContext, job: Job) -> bool:
    return (utcnow() - job.attempt_started_at).total_seconds() > ctx.services.settings.job_deadline_seconds


async def expire(ctx: StepContext, job: Job) -> None:
    """Fail a job past its deadline and stop paying for its generation."""
    move = moves.timed_out(ctx.services.settings.job_deadline_seconds)
    moved = await asyncio.to_thread(ctx.services.repository.jobs.apply, job.id, move)
    if moved is None:
        return
    logger.warning("job %s: timed out in %s", job.id, job.status.value)
    if job.luma_generation_id:
        await delete_generation(ctx.services.provider, job.luma_generation_id)
    elif job.attempts > 0 or job.resubmits > 0:
        # An earlier create may have reached the provider without our learning its id.
        await delete_unrecorded_generations(ctx, job)


async def delete_unrecorded_generations(ctx: StepContext, job: Job) -> None:
    """Delete unfinished generations made for this job whose ids it never recorded."""
    provider = ctx.services.provider
    try:
        recent = await generations_since(provider, job.submitted_at or job.created_at)
    except ProviderError as error:
        logger.warning("job %s: could not list generations to clean up (%s)", job.id, error.message)
        return
    for generation in recent:
        if generation.state in ("queued", "dreaming") and names_job(generation, job.id):
            await delete_generation(provider, generation.id)


# --- poll ----------------------------------------------------------------------------------


async def poll(ctx: StepContext, job: Job) -> None:
    """Callbacks are overdue: ask the provider, apply its answer as if it were a callback."""
    if past_deadline(ctx, job):
        await expire(ctx, job)
        return
    moved = await refresh_from_provider(ctx, job)
    if moved is None or moved.status is job.status:
        delay = min(MAX_POLL_INTERVAL, backoff_seconds(job.attempts, base=5.0, cap=MAX_POLL_INTERVAL))
        await asyncio.to_thread(
            ctx.services.repository.queue.release,
            job.id,
            ctx.owner,
            reschedule=(job.status, by_deadline(ctx, job, utcnow() + timedelta(seconds=delay))),
            failed_attempt=True,
        )


async def refresh_from_provider(ctx: StepContext, job: Job) -> Job | None:
    if job.luma_generation_id is None:
        return None
    try:
        generation = await ctx.services.provider.get(job.luma_generation_id)
    except GenerationNotFound:
        # Only if the job still has this generation: it may have been sent again meanwhile.
        move = moves.lost(job.luma_generation_id)
        return await asyncio.to_thread(ctx.services.repository.jobs.apply, job.id, move)
    except ProviderError as error:
        logger.warning("job %s: could not ask the provider (%s)", job.id, error.message)
        return None
    current = await asyncio.to_thread(ctx.services.repository.jobs.get, job.id)
    if current is None:
        return None
    return await asyncio.to_thread(
        apply_generation,
        ctx.services.repository,
        current,
        generation,
        grace_seconds=ctx.services.settings.callback_grace_seconds,
        deadline_seconds=ctx.services.settings.job_deadline_seconds,
    )


# --- process -------------------------------------------------------------------------------


async def process(ctx: StepContext, job: Job) -> None:
    services = ctx.services
    repository = services.repository
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f"pixelmotion-{job.id[:8]}-"))
    downloaded = True  # until obtain_clip says the clip came from our own store
    try:
        clip = workdir / "source.mp4"
        await report(ctx, job, "download")
        downloaded = await obtain_clip(ctx, job, clip)
        await report(ctx, job, "decode")
        outputs = workdir / "out"
        loop = asyncio.get_running_loop()
        summary: dict[str, Any] = await loop.run_in_executor(
            services.executor,
            _render,
            str(clip),
            str(outputs),
            job.width,
            job.height,
            job.color_count,
            job.fps,
            job.dither,
            job.fit,
        )
        await report(ctx, job, "encode")
        keys = await asyncio.to_thread(store_outputs, services, job, outputs, summary["files"])
    except MediaError as error:
        # A damaged download (the CDN served half a file, or garbage) is fetched again; the
        # same error from our own stored copy, or any other media error, is final.
        refetch = downloaded and error.code in CLIP_DEFECTS
        await process_failed(ctx, job, error.code, error.message, refetch=refetch)
        return
    except JobLeftProcessing:
        logger.info("job %s: left processing (canceled?); stopping", job.id)
        return
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ours_ms = int((time.monotonic() - started) * 1000)
    now = utcnow()
    move = moves.completed(
        total_frames=summary["totalFrames"],
        keys=keys,
        frame_data=frame_data(summary),
        frame_ms=ours_ms,
        total_ms=int((now - job.created_at).total_seconds() * 1000),
    )
    done = await asyncio.to_thread(repository.jobs.apply, job.id, move, now=now)
    if done is not None:
        logger.info("job %s: completed, %d frames in %d ms", job.id, summary["totalFrames"], ours_ms)


def _render(
    clip: str, out_dir: str, width: int, height: int, colors: int, fps: int, dither: str, fit: str
) -> dict[str, Any]:
    """Runs in the process pool."""
    return render_outputs(
        clip, out_dir, width=width, height=height, colors=colors, fps=fps, dither=dither, fit=fit
    )


class JobLeftProcessing(Exception):
    """The job was canceled (or otherwise moved) while we processed it: stop here."""


async def report(ctx: StepContext, job: Job, step: str) -> None:
    """Show a processing sub-step; stops the step if the job is no longer processing."""
    progress, message = PROCESSING_STEPS[step]
    moved = await asyncio.to_thread(
        ctx.services.repository.jobs.report_progress, job.id, JobStatus.PROCESSING, progress, message
    )
    if moved is None:
        raise JobLeftProcessing(job.id)


async def obtain_clip(ctx: StepContext, job: Job, clip: Path) -> bool:
    """Our stored copy of the paid clip if we have one, else download it and keep a copy.

    True when the clip was downloaded in this run (not read from our store)."""
    services = ctx.services
    if job.source_object_key and services.store.exists(job.source_object_key):
        clip.write_bytes(await asyncio.to_thread(services.store.get_bytes, job.source_object_key))
        return False
    if not job.luma_video_url:
        raise MediaError("DOWNLOAD_FAILED", "The provider gave no video URL for this clip.")
    guard = AddressGuard(services.settings.allowed_asset_hosts)
    await asyncio.to_thread(
        download_video, job.luma_video_url, clip, max_bytes=services.settings.max_video_bytes, guard=guard
    )
    key = f"jobs/{job.id}/source.mp4"
    await asyncio.to_thread(services.store.put_file, key, clip, "video/mp4")
    await asyncio.to_thread(
        services.repository.jobs.update_fields, job.id, JobStatus.PROCESSING, {"source_object_key": key}
    )
    return True


def store_outputs(services: Services, job: Job, outputs: Path, files: dict[str, str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for name, filename in files.items():
        if name not in OUTPUT_TYPES:
            continue
        key = f"jobs/{job.id}/{filename}"
        services.store.put_file(key, outputs / filename, OUTPUT_TYPES[name])
        keys[name] = key
    return keys


def frame_data(summary: dict[str, Any]) -> dict[str, Any]:
    """Small inline metadata only; never pixel arrays."""
    return {
        "width": summary["width"],
        "height": summary["height"],
        "fps": summary["fps"],
        "durationMs": summary["durationMs"],
        "palette": summary["palette"],
        "timingsMs": summary.get("timingsMs", {}),
        "source": summary.get("source", {}),
    }


async def process_failed(
    ctx: StepContext, job: Job, code: str, message: str, *, refetch: bool = False
) -> None:
    repository = ctx.services.repository
    transient = code == "DOWNLOAD_FAILED" or refetch
    if transient and job.attempts + 1 < MAX_PROCESS_ATTEMPTS:
        if refetch:
            # Forget the damaged copy so the next run downloads the clip again. On the last
            # attempt the copy is kept: the paid clip, for a retry once the cause is fixed.
            await asyncio.to_thread(
                repository.jobs.update_fields, job.id, JobStatus.PROCESSING, {"source_object_key": None}
            )
        delay = backoff_seconds(job.attempts)
        logger.warning("job %s: %s (%s); retrying in %.1fs", job.id, code, message, delay)
        await asyncio.to_thread(
            repository.queue.release,
            job.id,
            ctx.owner,
            reschedule=(JobStatus.PROCESSING, by_deadline(ctx, job, utcnow() + timedelta(seconds=delay))),
            failed_attempt=True,
        )
        return
    logger.warning("job %s: failed with %s: %s", job.id, code, message)
    await asyncio.to_thread(repository.jobs.apply, job.id, moves.failed(code, message))
