"""Retrying object store calls through a passing outage: exponential backoff with full
jitter, inside a bounded total time, then ``StorageUnavailable``.

Two layers use it. Each S3 call retries connection errors, timeouts and 500/503 for a short
budget (``S3ObjectStore(retry_seconds=…)``, 1 s by default) so an API request never hangs on
the store. ``PatientStore`` wraps a store for the worker and retries ``StorageUnavailable``
for longer (30 s by default), so a store that is down for a few seconds does not cost a
re-render; past that the worker reschedules the job ("retry later").
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pixelmotion.jitter import jitter
from pixelmotion.objects.base import ObjectStore, StorageUnavailable

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """``budget_seconds``: no new try starts after this long (so the whole call takes at
    most the budget plus one try's own timeouts). Delays: full jitter on ``base·2ⁿ``,
    capped at ``cap``."""

    budget_seconds: float
    base: float = 0.1
    cap: float = 5.0
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[float, float], float] = field(default=jitter, compare=False)

    def delay(self, attempt: int) -> float:
        return self.jitter(0.0, min(self.cap, self.base * (2**attempt)))


def retry_call(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    transient: Callable[[BaseException], bool],
    what: str,
) -> T:
    """``operation()``, tried again while it fails with an error ``transient`` accepts and
    the budget allows; then ``StorageUnavailable`` (the last error as its cause)."""
    started = policy.clock()
    attempt = 0
    while True:
        try:
            return operation()
        except Exception as error:
            if not transient(error):
                raise
            elapsed = policy.clock() - started
            delay = policy.delay(attempt)
            if elapsed + delay > policy.budget_seconds:
                retry_after = getattr(error, "retry_after", None) or max(1.0, policy.cap)
                raise StorageUnavailable(
                    f"The object store did not answer ({what}) for {elapsed:.1f}s: {describe(error)}",
                    retry_after=retry_after,
                ) from error
            attempt += 1
            logger.info(
                "object store: %s failed (%s); try %d in %.2fs", what, describe(error), attempt, delay
            )
            policy.sleep(delay)


def describe(error: BaseException) -> str:
    """A short, secret-free description: the error's type and its first line."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text[:200]}" if text else type(error).__name__


def _unavailable(error: BaseException) -> bool:
    return isinstance(error, StorageUnavailable)


class PatientStore:
    """A store whose calls wait out a passing outage: ``StorageUnavailable`` from the inner
    store is retried with backoff for ``policy.budget_seconds`` in all. For the worker, which
    would otherwise render a job again; the API uses the store as it is (it answers 503)."""

    def __init__(self, inner: ObjectStore, policy: RetryPolicy | None = None) -> None:
        self.inner = inner
        self.policy = policy or RetryPolicy(budget_seconds=30.0, base=0.5, cap=5.0)

    def _call(self, what: str, operation: Callable[[], T]) -> T:
        return retry_call(operation, policy=self.policy, transient=_unavailable, what=what)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self._call(f"put {key}", lambda: self.inner.put_file(key, path, content_type))

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._call(f"put {key}", lambda: self.inner.put_bytes(key, data, content_type))

    def get_bytes(self, key: str) -> bytes:
        return self._call(f"get {key}", lambda: self.inner.get_bytes(key))

    @property
    def local(self) -> bool:
        return self.inner.local

    def local_path(self, key: str) -> Path | None:
        return self.inner.local_path(key)

    def exists(self, key: str) -> bool:
        return self._call(f"head {key}", lambda: self.inner.exists(key))

    def delete_prefix(self, prefix: str) -> int:
        return self._call(f"delete {prefix}", lambda: self.inner.delete_prefix(prefix))

    def delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        return self._call(f"expire {prefix}", lambda: self.inner.delete_older_than(prefix, cutoff))

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        return self.inner.presigned_url(key, expires_seconds)
