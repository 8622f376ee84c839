"""What a provider's news means for a job: the one mapping from a generation's state
(a callback or a poll, both alike) to the job's next state. Pure: the caller applies the
returned ``Move`` (``jobs/moves.py``) with a compare-and-set."""

from __future__ import annotations

from datetime import datetime, timedelta

from pixelmotion.jobs import moves
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.moves import Move
from pixelmotion.jobs.states import MAX_RESUBMITS

# Failures Luma refunds and that are worth one more generation (luma-api.md).
TRANSIENT_FAILURE_REASONS = frozenset({"Error dispatching job", "Job failed"})


def move_for_generation(
    job: Job,
    *,
    state: str,
    failure_reason: str | None,
    video_url: str | None,
    now: datetime,
    grace_seconds: float,
    deadline_at: datetime | None = None,
    generation_id: str | None = None,
) -> Move | None:
    """The move a generation's state asks for, or None when it asks for nothing.

    ``deadline_at``: when the job's deadline passes; the next check is never later.
    ``generation_id``: the generation the news is about; the move is bound to it.
    """
    if state == "queued":
        return None
    if state == "dreaming":
        check_at = now + timedelta(seconds=grace_seconds)
        if deadline_at is not None:
            check_at = min(check_at, deadline_at)
        return moves.dreaming(check_at=check_at, generation_id=generation_id)
    if state == "completed":
        provider_ms = _elapsed_ms(job.submitted_at, now)
        return moves.clip_ready(video_url, now=now, provider_ms=provider_ms, generation_id=generation_id)
    if state == "failed":
        if failure_reason in TRANSIENT_FAILURE_REASONS and job.resubmits < MAX_RESUBMITS:
            return moves.resubmitted(job.resubmits + 1, now=now, generation_id=generation_id)
        return moves.generation_failed(failure_reason, generation_id=generation_id)
    return None


def _elapsed_ms(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds() * 1000))
