"""Use cases shared by the API and the worker: accept a job, take a provider's news
(callback or poll, one path), cancel. Each change is a compare-and-set in the repository."""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pixelmotion.jobs import moves
from pixelmotion.jobs.models import Job, JobSpec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.jobs.updates import move_for_generation
from pixelmotion.providers.base import Generation, ProviderError, VideoProvider
from pixelmotion.security import CALLBACK_PATH, redact_json
from pixelmotion.store import Store, utcnow

logger = logging.getLogger(__name__)

DEFAULT_ESTIMATE_SECONDS = 90
# A job is due again just after its deadline, so the check then finds it past it.
DEADLINE_MARGIN = timedelta(milliseconds=100)


class CallbackOutcome(StrEnum):
    APPLIED = "applied"  # moved the job
    IGNORED = "ignored"  # nothing new (a repeat, or news of an older state)
    UNCONFIRMED = "unconfirmed"  # the job has no generation id yet; the worker will confirm
    REFUSED = "refused"  # names another generation than the job's


def create_job(repository: Store, spec: JobSpec, *, user_id: str, provider: str) -> Job:
    return repository.jobs.create(spec, user_id=user_id, provider=provider)


class Estimator:
    """Expected seconds from request to result, from recent completed jobs (cached briefly)."""

    def __init__(self, repository: Store, ttl_seconds: float = 10.0) -> None:
        self._repository = repository
        self._ttl = ttl_seconds
        self._value = DEFAULT_ESTIMATE_SECONDS
        self._at = 0.0

    def seconds(self) -> int:
        if time.monotonic() - self._at > self._ttl:
            durations = self._repository.jobs.recent_durations_seconds()
            self._value = round(statistics.median(durations)) if durations else DEFAULT_ESTIMATE_SECONDS
            self._at = time.monotonic()
        return int(self._value)


def names_job(generation: Generation, job_id: str) -> bool:
    """Whether a generation was created for this job (its callback URL names the job)."""
    return bool(generation.callback_url) and CALLBACK_PATH.format(job_id=job_id) in (
        generation.callback_url or ""
    )


def apply_generation(
    repository: Store,
    job: Job,
    generation: Generation,
    *,
    grace_seconds: float,
    deadline_seconds: float | None = None,
    now: datetime | None = None,
) -> Job | None:
    """Move the job as the provider's news asks (a callback or a poll); None if nothing moved.

    With ``deadline_seconds``, the job is looked at again by its deadline at the latest.
    """
    move = move_for_generation(
        job,
        state=generation.state,
        failure_reason=generation.failure_reason,
        video_url=generation.video_url,
        now=now or utcnow(),
        grace_seconds=grace_seconds,
        deadline_at=deadline_of(job, deadline_seconds),
        generation_id=generation.id,  # news of an older generation never moves the job
    )
    if move is None:
        return None
    moved = repository.jobs.apply(job.id, move, now=now)
    if moved is not None:
        logger.info(
            "job %s: %s -> %s (provider said %s)",
            job.id,
            job.status,
            moved.status,
            generation.state,
        )
    return moved


def deadline_of(job: Job, deadline_seconds: float | None) -> datetime | None:
    """Just past the moment the job's deadline passes (None: no deadline given)."""
    if deadline_seconds is None:
        return None
    return job.attempt_started_at + timedelta(seconds=deadline_seconds) + DEADLINE_MARGIN


def receive_callback(
    repository: Store,
    job: Job,
    generation: Generation,
    *,
    grace_seconds: float,
    deadline_seconds: float | None = None,
) -> CallbackOutcome:
    """Record a verified callback and apply it. Never downloads or processes anything."""
    body = redact_json(generation.raw)
    if job.luma_generation_id is None:
        # The callback beat our own commit of the generation id (or the submit crashed):
        # keep it and let the worker confirm with the provider before adopting it.
        outcome = CallbackOutcome.UNCONFIRMED
        repository.callbacks.record(
            job_id=job.id,
            user_id=job.user_id,
            generation_id=generation.id,
            state=generation.state,
            body=body,
            outcome=outcome.value,
        )
        repository.queue.schedule(job.id, JobStatus.PENDING, utcnow())
        return outcome
    if generation.id != job.luma_generation_id:
        outcome = CallbackOutcome.REFUSED
    else:
        moved = apply_generation(
            repository, job, generation, grace_seconds=grace_seconds, deadline_seconds=deadline_seconds
        )
        outcome = CallbackOutcome.APPLIED if moved else CallbackOutcome.IGNORED
    repository.callbacks.record(
        job_id=job.id,
        user_id=job.user_id,
        generation_id=generation.id,
        state=generation.state,
        body=body,
        outcome=outcome.value,
    )
    return outcome


@dataclass(frozen=True)
class CancelResult:
    job: Job
    changed: bool


def cancel_job(repository: Store, job: Job) -> CancelResult:
    moved = repository.jobs.apply(job.id, moves.canceled())
    if moved is None:
        current = repository.jobs.get(job.id) or job
        return CancelResult(current, False)
    return CancelResult(moved, True)


async def delete_generation(provider: VideoProvider, generation_id: str | None) -> None:
    """Drop a generation we no longer want (canceled, timed out); best effort."""
    if not generation_id:
        return
    try:
        await provider.delete(generation_id)
    except ProviderError as error:
        logger.warning("could not delete generation %s: %s", generation_id, error.message)


class NoPaidClip(Exception):
    """A retry needs the clip we already paid for, and this job has none."""


def retry_job(repository: Store, job: Job) -> Job | None:
    """The one move back: a failed job whose paid clip we kept goes to processing again.

    None if the job is no longer failed (someone else retried it first).
    """
    if not job.source_object_key:
        raise NoPaidClip(job.id)
    return repository.jobs.apply(job.id, moves.retried(utcnow()))
