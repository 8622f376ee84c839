"""What we last learned about the provider account, for ``/healthz`` and the logs."""

from __future__ import annotations

import threading
import time
from typing import Any


class ProviderHealth:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: str | None = None
        self._since: float | None = None

    def mark_ok(self) -> None:
        with self._lock:
            self._error = None
            self._since = None

    def mark_failing(self, reason: str) -> None:
        with self._lock:
            if self._error is None:
                self._since = time.time()
            self._error = reason

    @property
    def ok(self) -> bool:
        return self._error is None

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            if self._error is None:
                return {"ok": True}
            return {"ok": False, "error": self._error, "since": self._since}
