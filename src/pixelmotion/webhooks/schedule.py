"""When a failed delivery is tried again: the Standard Webhooks example schedule by default
(immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h: about 3 days), with jitter."""

from __future__ import annotations

from pixelmotion.jitter import jitter

DEFAULT_SCHEDULE: tuple[float, ...] = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"0,5,300"`` → (0.0, 5.0, 300.0); empty → the default."""
    if not text.strip():
        return DEFAULT_SCHEDULE
    values = tuple(float(part) for part in text.split(",") if part.strip())
    if not values or any(v < 0 for v in values):
        raise ValueError("a webhook retry schedule is a comma-separated list of seconds >= 0")
    return values


def next_delay(attempts_made: int, schedule: tuple[float, ...]) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` tries; None when it is over."""
    if attempts_made >= len(schedule):
        return None
    base = schedule[attempts_made]
    return base * jitter(0.9, 1.1)
