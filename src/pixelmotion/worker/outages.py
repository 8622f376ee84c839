"""Our own infrastructure away while a step runs: the object store, a full disk, the database.
None of these is a verdict on the job, so none counts as a failed attempt; the job waits
(rescheduled, its reason in the progress message) until the outage passes or its deadline
comes (docs/RELIABILITY.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pixelmotion.jitter import jitter
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.objects.base import StorageUnavailable, is_disk_full
from pixelmotion.store.database import is_database_outage

logger = logging.getLogger(__name__)
T = TypeVar("T")

# A processing job waiting for storage says so; at its deadline it fails with the code the
# message names rather than TIMEOUT (worker/poll.py ``expire``).
STORAGE_WAITS: dict[ErrorCode, str] = {
    ErrorCode.STORAGE_UNAVAILABLE: "Waiting for storage: the file store is not answering...",
    ErrorCode.STORAGE_FULL: "Waiting for storage: no space left to save the results...",
}
STORAGE_FAILURES: dict[ErrorCode, str] = {
    ErrorCode.STORAGE_UNAVAILABLE: "The file store stayed unavailable until the job's deadline.",
    ErrorCode.STORAGE_FULL: "Storage stayed full until the job's deadline.",
}
STORAGE_WAIT_CAP = 60.0  # seconds between tries, at most
DISK_FULL_RETRY_AFTER = 30.0  # a bare OSError(ENOSPC) names no retry time
CLAIM_BACKOFF_CAP = 5.0


def storage_outage(error: BaseException) -> ErrorCode | None:
    """The storage code for an error that means our storage is away or full, else None."""
    if isinstance(error, StorageUnavailable):
        return ErrorCode.STORAGE_UNAVAILABLE
    if is_disk_full(error):
        return ErrorCode.STORAGE_FULL
    return None


def storage_delay(error: BaseException) -> float:
    """Seconds until the next try: never sooner than the error's ``retry_after``, jittered
    so waiting jobs do not all come back at once, at most a minute."""
    retry_after = getattr(error, "retry_after", None) or DISK_FULL_RETRY_AFTER
    return min(STORAGE_WAIT_CAP, retry_after * jitter(1.0, 1.5))


def storage_code_waited_for(job: Job) -> ErrorCode | None:
    """The storage a processing job was last waiting for (its progress message says), if any."""
    if job.status is not JobStatus.PROCESSING:
        return None
    return next((code for code, message in STORAGE_WAITS.items() if job.progress_message == message), None)


def claim_backoff(failures: int) -> float:
    """Pause after ``failures`` claims in a row failed (the database away): capped, jittered."""
    ceiling = min(CLAIM_BACKOFF_CAP, 0.25 * (2 ** max(0, failures - 1)))
    return jitter(ceiling / 2, ceiling)


async def while_database_away(
    operation: Callable[[], Awaitable[T]],
    *,
    budget_seconds: float,
    what: str,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    """``operation()``, tried again with backoff while the database is away, for at most
    ``budget_seconds``; None if it never went through (another error is raised)."""
    started, failures = clock(), 0
    while True:
        try:
            return await operation()
        except Exception as error:
            if not is_database_outage(error):
                raise
            failures += 1
            delay = claim_backoff(failures)
            if clock() - started + delay > budget_seconds:
                logger.warning("%s: the database stayed away; left to the lease", what)
                return None
            logger.info(
                "%s: the database is away (%s); trying again in %.1fs", what, type(error).__name__, delay
            )
            await sleep(delay)
