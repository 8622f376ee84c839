"""Retry jitter draws from a generator of its own (``jitter.py``)."""

from __future__ import annotations

import random

from pixelmotion.jitter import jitter
from pixelmotion.objects.retry import RetryPolicy
from pixelmotion.worker.backoff import backoff_seconds


def test_jitter_neither_draws_from_nor_moves_the_shared_generator() -> None:
    """Hypothesis fails a test whose global random state moves while it draws data; a retrying
    thread left over from an earlier test moved it through ``random.uniform``."""
    state = random.getstate()
    draws = [jitter(1.0, 2.0) for _ in range(100)]
    draws += [backoff_seconds(n) for n in range(5)] + [RetryPolicy(5.0).delay(n) for n in range(5)]
    assert random.getstate() == state
    assert all(1.0 <= d <= 2.0 for d in draws[:100]) and len(set(draws[:100])) > 90
