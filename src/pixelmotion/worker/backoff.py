"""When to try again: exponential backoff with full jitter, capped."""

from __future__ import annotations

from pixelmotion.jitter import jitter


def backoff_seconds(
    attempt: int, *, base: float = 2.0, cap: float = 300.0, retry_after: float | None = None
) -> float:
    """Delay before try number ``attempt + 1``; never sooner than the provider's Retry-After."""
    ceiling = min(cap, base * (2 ** max(0, attempt)))
    delay = jitter(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)
