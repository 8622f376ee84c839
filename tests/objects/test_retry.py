"""Retrying through an outage: backoff inside a bounded time (a fake clock), then
StorageUnavailable; PatientStore waits out an inner store's passing outage."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelmotion.objects import LocalObjectStore, PatientStore, RetryPolicy, StorageUnavailable
from pixelmotion.objects.retry import retry_call


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def policy(clock: FakeClock, budget: float, **options: float) -> RetryPolicy:
    # The upper end of the jitter: the worst case for the budget.
    return RetryPolicy(budget, clock=clock, sleep=clock.sleep, jitter=lambda _lo, hi: hi, **options)


def test_backoff_doubles_up_to_its_cap_and_gives_up_within_the_budget() -> None:
    clock = FakeClock()
    tries: list[float] = []

    def refused() -> None:
        tries.append(clock.now)
        raise ConnectionRefusedError("refused")

    with pytest.raises(StorageUnavailable) as raised:
        retry_call(
            refused, policy=policy(clock, 10.0, base=0.5, cap=2.0), transient=lambda e: True, what="put k"
        )
    assert clock.sleeps[:4] == [0.5, 1.0, 2.0, 2.0]
    assert clock.now <= 10.0  # no try starts after the budget
    assert len(tries) == len(clock.sleeps) + 1
    assert "put k" in raised.value.message and "ConnectionRefusedError" in raised.value.message
    assert isinstance(raised.value.__cause__, ConnectionRefusedError)
    assert raised.value.retry_after >= 1.0


def test_jitter_spreads_the_delays_below_the_ceiling() -> None:
    delays = {RetryPolicy(10.0, base=1.0, cap=8.0).delay(3) for _ in range(50)}
    assert all(0.0 <= delay <= 8.0 for delay in delays)
    assert len(delays) > 40  # random, so retrying clients do not stampede together


def test_an_error_that_is_not_an_outage_is_raised_at_once() -> None:
    clock = FakeClock()

    def wrong() -> None:
        raise ValueError("bad key")

    with pytest.raises(ValueError):
        retry_call(wrong, policy=policy(clock, 10.0), transient=lambda e: False, what="put")
    assert clock.sleeps == []


class FlakyStore(LocalObjectStore):
    """A real local store that is "unavailable" for its first ``outages`` writes."""

    def __init__(self, root: Path, outages: int) -> None:
        super().__init__(root)
        self.outages = outages

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        if self.outages:
            self.outages -= 1
            raise StorageUnavailable("down")
        super().put_bytes(key, data, content_type)


def test_patient_store_waits_out_a_passing_outage(tmp_path: Path) -> None:
    clock = FakeClock()
    inner = FlakyStore(tmp_path, outages=3)
    store = PatientStore(inner, policy(clock, 30.0, base=0.5, cap=5.0))
    store.put_bytes("jobs/a/sheet.png", b"png", "image/png")
    assert inner.get_bytes("jobs/a/sheet.png") == b"png"
    assert clock.sleeps == [0.5, 1.0, 2.0]


def test_patient_store_gives_up_after_its_budget(tmp_path: Path) -> None:
    clock = FakeClock()
    inner = FlakyStore(tmp_path, outages=1000)
    store = PatientStore(inner, policy(clock, 30.0, base=0.5, cap=5.0))
    with pytest.raises(StorageUnavailable):
        store.put_bytes("jobs/a/sheet.png", b"png", "image/png")
    assert clock.now <= 30.0 and len(clock.sleeps) >= 7
    assert not inner.exists("jobs/a/sheet.png")
