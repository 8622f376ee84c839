"""What a provider's news means for a job: the one mapping from a generation's state
(a callback or a poll, both alike) to the job's next state. Pure: the caller applies the
returned ``Move`` with a compare-and-set."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import (
    MAX_RESUBMITS,
    MESSAGES,
    PROGRESS,
    RESUBMIT_SOURCES,
    JobStatus,
    sources_for,
)

# Failures Luma refunds and that are worth one more generation (luma-api.md).
TRANSIENT_FAILURE_REASONS = frozenset({"Error dispatching job", "Job failed"})

# Before processing starts, a provider's "failed" still ends the job; afterwards it is news
# about a clip we already have, and is ignored.
FAILABLE_BY_PROVIDER = frozenset({JobStatus.PENDING, JobStatus.QUEUED, JobStatus.DREAMING})


@dataclass(frozen=True)
class Move:
    target: JobStatus
    sources: frozenset[JobStatus]
    values: dict[str, Any] = field(default_factory=dict)
    progress: int | None = None
    message: str | None = None
    # News of a generation: the move applies only while this is still the job's generation.
    # Its caller read the job before; meanwhile the job may have been sent again (resubmit).
    generation_id: str | None = None


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
        return Move(
            JobStatus.DREAMING,
            sources_for(JobStatus.DREAMING),
            {"next_run_at": check_at},
            generation_id=generation_id,
        )
    if state == "completed":
        provider_ms = _elapsed_ms(job.submitted_at, now)
        return Move(
            JobStatus.PROCESSING,
            sources_for(JobStatus.PROCESSING),
            {
                "luma_video_url": video_url,
                "luma_processing_time_ms": provider_ms,
                "next_run_at": now,
                "attempts": 0,
            },
            progress=PROGRESS[JobStatus.PROCESSING],
            message=MESSAGES[JobStatus.PROCESSING],
            generation_id=generation_id,
        )
    if state == "failed":
        if failure_reason in TRANSIENT_FAILURE_REASONS and job.resubmits < MAX_RESUBMITS:
            return Move(
                JobStatus.PENDING,
                RESUBMIT_SOURCES,
                {
                    "luma_generation_id": None,
                    "luma_video_url": None,
                    "submitted_at": None,
                    "resubmits": job.resubmits + 1,
                    "attempts": 0,
                    "next_run_at": now,
                },
                progress=PROGRESS[JobStatus.PENDING],
                message="The video model hit a passing error; trying once more...",
                generation_id=generation_id,
            )
        reason = failure_reason or "The generation failed"
        return failure_move(
            ErrorCode.LUMA_GENERATION_FAILED,
            f"The video model could not make this clip: {reason}",
            {"failure_reason": failure_reason},
            sources=FAILABLE_BY_PROVIDER,
            generation_id=generation_id,
        )
    return None


def failure_move(
    code: ErrorCode | str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    sources: frozenset[JobStatus] | None = None,
    generation_id: str | None = None,
) -> Move:
    return Move(
        JobStatus.FAILED,
        sources if sources is not None else sources_for(JobStatus.FAILED),
        {"error_code": str(code), "error_message": message, "error_details": details or {}},
        message=message,
        generation_id=generation_id,
    )


def _elapsed_ms(start: datetime | None, end: datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds() * 1000))
