"""Provider callbacks and polls: the provider's news about a generation, one path for both.

A callback's URL carries an HMAC token (Luma signs nothing); the body is recorded (secrets
redacted) and applied as a compare-and-set. Nothing heavier: the worker downloads.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pixelmotion.app.errors import Conflict, Malformed, NotFound, TooLarge, Unauthenticated
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.jobs.updates import move_for_generation
from pixelmotion.providers.base import Generation, parse_generation
from pixelmotion.security import CALLBACK_PATH, json_nesting_exceeds, redact_json, verify_callback_token
from pixelmotion.store import Store, utcnow

logger = logging.getLogger(__name__)

MAX_CALLBACK_BYTES = 256 * 1024
MAX_CALLBACK_DEPTH = 32  # a Generation object nests 3 deep
# A job is due again just after its deadline, so the check then finds it past it.
DEADLINE_MARGIN = timedelta(milliseconds=100)


class CallbackOutcome(StrEnum):
    APPLIED = "applied"  # moved the job
    IGNORED = "ignored"  # nothing new (a repeat, or news of an older state)
    UNCONFIRMED = "unconfirmed"  # the job has no generation id yet; the worker will confirm
    REFUSED = "refused"  # names another generation than the job's


def names_job(generation: Generation, job_id: str) -> bool:
    """Whether a generation was created for this job (its callback URL names the job)."""
    return bool(generation.callback_url) and CALLBACK_PATH.format(job_id=job_id) in (
        generation.callback_url or ""
    )


def deadline_of(job: Job, deadline_seconds: float | None) -> datetime | None:
    """Just past the moment the job's deadline passes (None: no deadline given)."""
    if deadline_seconds is None:
        return None
    return job.attempt_started_at + timedelta(seconds=deadline_seconds) + DEADLINE_MARGIN


def apply_generation(
    store: Store,
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
    moved = store.jobs.apply(job.id, move, now=now)
    if moved is not None:
        logger.info("job %s: %s -> %s (provider said %s)", job.id, job.status, moved.status, generation.state)
    return moved


def receive_callback(
    store: Store,
    job: Job,
    generation: Generation,
    *,
    grace_seconds: float,
    deadline_seconds: float | None = None,
) -> CallbackOutcome:
    """Record a verified callback and apply it. Never downloads or processes anything."""
    if job.luma_generation_id is None:
        # The callback beat our own commit of the generation id (or the submit crashed):
        # keep it and let the worker confirm with the provider before adopting it.
        outcome = CallbackOutcome.UNCONFIRMED
        record(store, job, generation, outcome)
        store.queue.schedule(job.id, JobStatus.PENDING, utcnow())
        return outcome
    if generation.id != job.luma_generation_id:
        outcome = CallbackOutcome.REFUSED
    else:
        moved = apply_generation(
            store, job, generation, grace_seconds=grace_seconds, deadline_seconds=deadline_seconds
        )
        outcome = CallbackOutcome.APPLIED if moved else CallbackOutcome.IGNORED
    record(store, job, generation, outcome)
    return outcome


def record(store: Store, job: Job, generation: Generation, outcome: CallbackOutcome) -> None:
    store.callbacks.record(
        job_id=job.id,
        user_id=job.user_id,
        generation_id=generation.id,
        state=generation.state,
        body=redact_json(generation.raw),
        outcome=outcome.value,
    )


def handle_callback(
    store: Store,
    verifying_keys: tuple[str, ...],
    job_id: str,
    token: str | None,
    raw: bytes,
    *,
    grace_seconds: float,
    deadline_seconds: float | None,
    count: Callable[[CallbackOutcome], None] = lambda _: None,
) -> CallbackOutcome:
    """A callback as it arrives: check its token, read its body, apply it. ``store`` acts as
    the service (a callback is the provider's, not a user's); the token names the job.
    ``count`` hears every outcome, a refused one too (which then ends in a conflict)."""
    if not verify_callback_token(verifying_keys, job_id, token):
        raise Unauthenticated("INVALID_CALLBACK_TOKEN", "The callback URL's token is missing or wrong.")
    if len(raw) > MAX_CALLBACK_BYTES:
        raise TooLarge("PAYLOAD_TOO_LARGE", "The callback body is too large.")
    generation = parse_callback(raw)
    job = store.jobs.get(job_id)
    if job is None:
        raise NotFound("JOB_NOT_FOUND", f"No job {job_id}.")
    outcome = receive_callback(
        store, job, generation, grace_seconds=grace_seconds, deadline_seconds=deadline_seconds
    )
    count(outcome)
    if outcome is CallbackOutcome.REFUSED:
        logger.warning("job %s: callback names generation %s, not the job's", job_id, generation.id)
        raise Conflict("GENERATION_MISMATCH", "This callback names another generation than the job's.")
    return outcome


def parse_callback(raw: bytes) -> Generation:
    # Refused before any parse or walk, so no recursion can start (issue 17, finding 14).
    if json_nesting_exceeds(raw, MAX_CALLBACK_DEPTH):
        raise Malformed("INVALID_CALLBACK", "The callback body is nested too deeply.")
    try:
        payload = json.loads(raw)
        problem = unstorable(payload)
        if problem is not None:
            raise ValueError(f"it holds {problem}")
        return parse_generation(payload)
    except (ValueError, TypeError, RecursionError) as error:  # RecursionError: nested too deep
        raise Malformed(
            "INVALID_CALLBACK", f"The callback body is not a Generation object: {error}"
        ) from None


def unstorable(value: Any) -> str | None:
    """What the body holds that plain JSON, as Luma sends it, never does and PostgreSQL's
    text and JSONB cannot store (the body is kept): NUL, a lone surrogate, NaN or Infinity."""
    if isinstance(value, dict | list):
        parts = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        for part in parts:
            problem = unstorable(part)
            if problem is not None:
                return problem
    elif isinstance(value, str):
        if "\x00" in value:
            return "a NUL character"
        try:
            value.encode()
        except UnicodeEncodeError:
            return "a lone surrogate"
    elif isinstance(value, float) and not math.isfinite(value):
        return "a number JSON cannot hold"
    return None
