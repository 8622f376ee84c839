"""Job states, the moves allowed between them, and the progress each one shows.

This is the one place that says how a job may change state; the store turns each move
into a compare-and-set update so a late or repeated callback can never move a job back.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"  # accepted, not yet sent to the provider
    QUEUED = "queued"  # the provider accepted it
    DREAMING = "dreaming"  # the provider is rendering
    PROCESSING = "processing"  # clip being downloaded and pixelated
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE_STATES = frozenset(JobStatus) - TERMINAL_STATES

# target state -> the states a job may come from.
ALLOWED_SOURCES: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.PENDING}),
    JobStatus.DREAMING: frozenset({JobStatus.PENDING, JobStatus.QUEUED}),
    # A completed callback may arrive before (or instead of) the dreaming one.
    JobStatus.PROCESSING: frozenset({JobStatus.PENDING, JobStatus.QUEUED, JobStatus.DREAMING}),
    JobStatus.COMPLETED: frozenset({JobStatus.PROCESSING}),
    JobStatus.FAILED: ACTIVE_STATES,
    JobStatus.CANCELED: ACTIVE_STATES,
}

# Explicit moves back, each made by one named use case:
# - retry: a failed job whose paid clip we kept is processed again (POST /v1/jobs/{id}/retry);
RETRY_SOURCES = frozenset({JobStatus.FAILED})
# - resubmit: the provider failed the generation for a reason it refunds ("Job failed"), so
#   the job goes back to pending for one more generation.
RESUBMIT_SOURCES = frozenset({JobStatus.PENDING, JobStatus.QUEUED, JobStatus.DREAMING})
MAX_RESUBMITS = 1

PROGRESS: dict[JobStatus, int] = {
    JobStatus.PENDING: 0,
    JobStatus.QUEUED: 20,
    JobStatus.DREAMING: 60,
    JobStatus.PROCESSING: 80,
    JobStatus.COMPLETED: 100,
}

# The plan's progress messages.
MESSAGES: dict[JobStatus, str] = {
    JobStatus.PENDING: "Waiting to start...",
    JobStatus.QUEUED: "Queued...",
    JobStatus.DREAMING: "AI generating... (1-2 min)",
    JobStatus.PROCESSING: "Extracting frames...",
    JobStatus.COMPLETED: "Done!",
    JobStatus.FAILED: "Failed",
    JobStatus.CANCELED: "Canceled",
}

# Sub-steps of processing, each with the progress it shows (80–99).
PROCESSING_STEPS: dict[str, tuple[int, str]] = {
    "download": (82, "Downloading clip..."),
    "decode": (88, "Extracting frames..."),
    "palette": (94, "Building palette..."),
    "encode": (97, "Saving results..."),
}


def sources_for(target: JobStatus) -> frozenset[JobStatus]:
    """The states from which a job may move to ``target``."""
    return ALLOWED_SOURCES[target]


def can_move(current: JobStatus, target: JobStatus) -> bool:
    return current in ALLOWED_SOURCES.get(target, frozenset())
