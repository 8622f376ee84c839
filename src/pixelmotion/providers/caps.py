"""The provider account's limits, which hold for the whole service, not per process.

Luma allows an account 10 generations in flight and 20 creates a minute; we also stop
sending work when the credit balance runs low or the day's estimated spend reaches a budget.
A pending job that may not be sent yet is not failed: it waits its turn in ``pending``.

The counts live in the database (the jobs table says what is in flight and when each create
was sent), so every worker in every process sees the same numbers; the store's
``queue.reserve_provider_slot`` checks them and claims a slot in one serialized transaction. The
credit balance is read from the provider now and then, by each process, into ``CreditGuard``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.providers.base import ProviderError, VideoProvider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """Why a pending job is not sent yet, and when to look again."""

    reason: str  # "in_flight", "per_minute", "daily_budget" or "credits"
    message: str
    retry_at: datetime


class CreditGuard:
    """The provider account's last known credit balance (USD cents) against a minimum."""

    def __init__(self, minimum_cents: float | None) -> None:
        self.minimum_cents = minimum_cents
        self._lock = threading.Lock()
        self._balance: float | None = None
        self._checked_at: float | None = None

    def record(self, balance_cents: float) -> None:
        with self._lock:
            was_low = self.low
            self._balance, self._checked_at = balance_cents, time.time()
            now_low = self.low
        if now_low and not was_low:
            logger.error(
                "provider credit balance is %.0f cents, below the minimum of %.0f: "
                "new jobs wait in pending until it is topped up",
                balance_cents,
                self.minimum_cents or 0,
            )
        elif was_low and not now_low:
            logger.info("provider credit balance is %.0f cents again: new jobs are sent", balance_cents)

    @property
    def low(self) -> bool:
        """True once a reading is below the minimum (unknown balances do not hold jobs back)."""
        balance = self._balance
        return self.minimum_cents is not None and balance is not None and balance < self.minimum_cents

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            snapshot: dict[str, Any] = {
                "ok": not self.low,
                "balanceCents": self._balance,
                "minimumCents": self.minimum_cents,
                "checkedAt": self._checked_at,
            }
        if self.low:
            snapshot["error"] = (
                f"credit balance {self._balance:.0f} cents is below the minimum of "
                f"{self.minimum_cents:.0f}; new jobs wait in pending"
            )
        return snapshot


async def watch_credits(provider: VideoProvider, guard: CreditGuard, interval_seconds: float = 60.0) -> None:
    """Read the provider's credit balance now and then (the gauge is set by MeasuredProvider)."""
    while True:
        try:
            guard.record(await provider.credits())
        except ProviderError as error:
            logger.warning("could not read the provider's credit balance: %s", error.message)
        await asyncio.sleep(interval_seconds)


class Admission:
    """Whether this process's workers may send new jobs to the provider: the caps (counted in
    the database), the credit guard, and a pause once the day's budget is found spent."""

    def __init__(self, caps: ProviderCaps, credits: CreditGuard) -> None:
        self.caps = caps
        self.credits = credits
        self._paused_until: datetime | None = None

    def hold(self, hold: Hold) -> None:
        if hold.reason == "daily_budget":
            self._paused_until = hold.retry_at

    def send_new(self, now: datetime) -> bool:
        paused = self._paused_until is not None and now < self._paused_until
        return not paused and not self.credits.low
