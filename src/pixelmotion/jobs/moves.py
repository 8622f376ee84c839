"""Every change of a job's state, each built by one named constructor. A ``Move`` says
where the job goes, from which states only, and what it records on the way; the store
applies it as a compare-and-set (``store/jobs.py``), so a move whose sources the job has left
changes nothing.

The worker, the services and the property tests build moves only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.states import (
    ACTIVE_STATES,
    MESSAGES,
    PROGRESS,
    RESUBMIT_SOURCES,
    RETRY_SOURCES,
    TERMINAL_STATES,
    JobStatus,
    sources_for,
)

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

    def written(self, now: datetime) -> dict[str, Any]:
        """The columns this move sets on the job (its status as the enum), at ``now``: one
        derivation for the store's compare-and-set and the in-memory twin of the tests."""
        values: dict[str, Any] = {
            "status": self.target,
            "updated_at": now,
            "progress_message": self.message or MESSAGES[self.target],
            **self.values,
        }
        progress = self.progress if self.progress is not None else PROGRESS.get(self.target)
        if progress is not None:
            values["progress"] = progress
        if self.target in TERMINAL_STATES:
            values.update(next_run_at=None, lease_owner=None, lease_until=None)
            if self.target is JobStatus.COMPLETED:
                values["completed_at"] = now
        return values


def submitted(generation_id: str, *, now: datetime, check_at: datetime) -> Move:
    """pending → queued: the provider made a generation for the job (or we adopted one)."""
    values = {
        "luma_generation_id": generation_id,
        "submitted_at": now,
        "attempts": 0,
        "next_run_at": check_at,
    }
    return Move(JobStatus.QUEUED, frozenset({JobStatus.PENDING}), values)


def dreaming(*, check_at: datetime, generation_id: str | None = None) -> Move:
    """The provider is making the clip; look again by ``check_at`` if no callback comes."""
    return Move(
        JobStatus.DREAMING,
        sources_for(JobStatus.DREAMING),
        {"next_run_at": check_at},
        generation_id=generation_id,
    )


def clip_ready(
    video_url: str | None, *, now: datetime, provider_ms: int | None, generation_id: str | None = None
) -> Move:
    """The provider's clip is done: download and pixelate it now."""
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


def resubmitted(resubmits: int, *, now: datetime, generation_id: str | None = None) -> Move:
    """→ pending again: the provider failed in a way it refunds; one more generation."""
    return Move(
        JobStatus.PENDING,
        RESUBMIT_SOURCES,
        {
            "luma_generation_id": None,
            "luma_video_url": None,
            "submitted_at": None,
            "resubmits": resubmits,
            "attempts": 0,
            "next_run_at": now,
        },
        progress=PROGRESS[JobStatus.PENDING],
        message="The video model hit a passing error; trying once more...",
        generation_id=generation_id,
    )


def completed(
    *,
    total_frames: int,
    keys: dict[str, str],
    frame_data: dict[str, Any],
    frame_ms: int,
    total_ms: int,
) -> Move:
    """processing → completed: the outputs are stored."""
    values = {
        "total_frames": total_frames,
        "frame_storage_urls": keys,
        "frame_data": frame_data,
        "frame_processing_time_ms": frame_ms,
        "processing_time_ms": total_ms,
    }
    return Move(JobStatus.COMPLETED, frozenset({JobStatus.PROCESSING}), values)


def failed(
    code: ErrorCode | str,
    message: str,
    details: dict[str, Any] | None = None,
    *,
    sources: frozenset[JobStatus] | None = None,
    generation_id: str | None = None,
) -> Move:
    """→ failed, with the error the user sees."""
    return Move(
        JobStatus.FAILED,
        sources if sources is not None else sources_for(JobStatus.FAILED),
        {"error_code": str(code), "error_message": message, "error_details": details or {}},
        message=message,
        generation_id=generation_id,
    )


def generation_failed(reason: str | None, *, generation_id: str | None = None) -> Move:
    """The provider failed the generation for good (before we had its clip)."""
    return failed(
        ErrorCode.LUMA_GENERATION_FAILED,
        f"The video model could not make this clip: {reason or 'The generation failed'}",
        {"failure_reason": reason},
        sources=FAILABLE_BY_PROVIDER,
        generation_id=generation_id,
    )


def timed_out(deadline_seconds: float) -> Move:
    return failed(ErrorCode.TIMEOUT, f"The job did not finish within {deadline_seconds / 60:g} minutes.")


def lost(generation_id: str) -> Move:
    """The provider no longer knows the job's generation (only if it is still the job's)."""
    message = "The video model no longer knows this generation."
    return failed(ErrorCode.PROVIDER_LOST, message, generation_id=generation_id)


def canceled() -> Move:
    """Any unfinished job → canceled, asked by its user."""
    values = {"error_code": ErrorCode.CANCELED.value, "error_message": "Canceled by the user"}
    return Move(JobStatus.CANCELED, ACTIVE_STATES, values)


def retried(now: datetime) -> Move:
    """The one move back: failed → processing again, from the paid clip we kept."""
    return Move(
        JobStatus.PROCESSING,
        RETRY_SOURCES,
        {
            "error_code": None,
            "error_message": None,
            "error_details": None,
            "attempts": 0,
            "next_run_at": now,
            "completed_at": None,
            "retried_at": now,  # a new attempt: the deadline counts from here
        },
        progress=PROGRESS[JobStatus.PROCESSING],
        message="Retrying from the stored clip...",
    )
