"""The provider account's caps, as the queue counts them (the store's claim and slot
reservation read them; ``providers/caps.py`` adds the credit balance and the holds)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProviderCaps:
    max_in_flight: int | None = None  # generations created and not yet finished
    creates_per_minute: int | None = None
    daily_budget_usd: float | None = None  # estimated spend of the generations created today (UTC)

    @property
    def enabled(self) -> bool:
        return any(
            v is not None for v in (self.max_in_flight, self.creates_per_minute, self.daily_budget_usd)
        )
