"""Jitter for retries and backoff, from a generator of our own.

Not the ``random`` module's shared generator: spreading retries should neither draw from
nor move anyone else's sequence. (Hypothesis fails a test whose global random state moves
while it draws data; a retrying thread left over from an earlier test did just that.)"""

from __future__ import annotations

import random

_GENERATOR = random.Random()


def jitter(low: float, high: float) -> float:
    """A uniform draw in [low, high]."""
    return _GENERATOR.uniform(low, high)
