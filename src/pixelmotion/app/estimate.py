"""How long a job takes from request to result, from the last completed jobs."""

from __future__ import annotations

import statistics
import time

from pixelmotion.store import Store

DEFAULT_ESTIMATE_SECONDS = 90


class Estimator:
    """Expected seconds from request to result, from recent completed jobs (cached briefly).

    Reads every user's jobs (the service's store) and gives out one number."""

    def __init__(self, store: Store, ttl_seconds: float = 10.0) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self._value = DEFAULT_ESTIMATE_SECONDS
        self._at = 0.0

    def seconds(self) -> int:
        if time.monotonic() - self._at > self._ttl:
            durations = self._store.jobs.recent_durations_seconds()
            self._value = round(statistics.median(durations)) if durations else DEFAULT_ESTIMATE_SECONDS
            self._at = time.monotonic()
        return int(self._value)
