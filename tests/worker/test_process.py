"""The process step's failure branches: a damaged download is fetched again, a stored copy's
damage or the last attempt is final (the paid clip kept for a retry)."""

from __future__ import annotations

import asyncio
import errno
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest

from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import ErrorCode
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.media.synthetic import make_clip
from pixelmotion.objects import LocalObjectStore, PatientStore, RetryPolicy, StorageFull, StorageUnavailable
from pixelmotion.worker.outages import STORAGE_WAITS
from pixelmotion.worker.poll import expire, past_deadline
from pixelmotion.worker.process import MAX_PROCESS_ATTEMPTS, process, process_failed, wait_for_storage
from tests.worker.conftest import Bench

CLIP = "jobs/x/source.mp4"


def processing(bench: Bench, *, attempts: int = 0) -> Job:
    job = bench.job()
    now = bench.clock()
    bench.store.jobs.apply(job.id, moves.submitted("gen-1", now=now, check_at=now))
    bench.store.jobs.apply(job.id, moves.clip_ready("http://127.0.0.1:9/c.mp4", now=now, provider_ms=1))
    bench.store.jobs.update_fields(
        job.id, JobStatus.PROCESSING, {"source_object_key": CLIP, "attempts": attempts}
    )
    return bench.current(job)


def test_a_damaged_download_is_fetched_again(bench: Bench) -> None:
    job = processing(bench)
    asyncio.run(process_failed(bench.ports, job, "VIDEO_TRUNCATED", "cut short", refetch=True))
    again = bench.current(job)
    assert again.status is JobStatus.PROCESSING and again.attempts == 1
    assert again.source_object_key is None, "the damaged copy is forgotten: the next run downloads"
    assert again.next_run_at is not None and again.next_run_at > bench.clock()


def test_the_last_attempt_fails_and_keeps_the_paid_clip(bench: Bench) -> None:
    job = processing(bench, attempts=MAX_PROCESS_ATTEMPTS - 1)
    asyncio.run(process_failed(bench.ports, job, "VIDEO_TRUNCATED", "cut short", refetch=True))
    ended = bench.current(job)
    assert ended.status is JobStatus.FAILED and ended.error_code == "VIDEO_TRUNCATED"
    assert ended.source_object_key == CLIP


def test_damage_in_our_own_stored_copy_is_final(bench: Bench) -> None:
    job = processing(bench)
    asyncio.run(process_failed(bench.ports, job, "VIDEO_TRUNCATED", "cut short", refetch=False))
    assert bench.current(job).status is JobStatus.FAILED


# --- our storage away or full (issue 16): the job waits, no attempt counted ---------------


class OutageStore(LocalObjectStore):
    """The real local store, with switches: ``down`` (every call: StorageUnavailable, for
    ``down_calls`` calls or until switched off) and ``full`` (writes of keys ending so raise
    StorageFull, as the real write path does on ENOSPC)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.down = False
        self.down_calls: int | None = None  # None: until switched off
        self.full: tuple[str, ...] = ()
        self.calls = 0

    def _check(self, key: str, writing: bool) -> None:
        self.calls += 1
        if self.down and (self.down_calls is None or self.down_calls > 0):
            if self.down_calls is not None:
                self.down_calls -= 1
            raise StorageUnavailable(f"the store is down ({key})", retry_after=5.0)
        if writing and key.endswith(self.full):
            raise StorageFull(f"No space left on the storage disk to write {key}.")

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        self._check(key, writing=True)
        super().put_file(key, path, content_type)

    def exists(self, key: str) -> bool:
        self._check(key, writing=False)
        return super().exists(key)

    def get_bytes(self, key: str) -> bytes:
        self._check(key, writing=False)
        return super().get_bytes(key)


@dataclass
class Patience:
    """A PatientStore's clock: its sleeps move time on, no test waits for real."""

    now: float = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def outage(bench: Bench, tmp_path: Path) -> tuple[Bench, OutageStore]:
    inner = OutageStore(tmp_path / "outage-objects")
    patience = Patience()
    policy = RetryPolicy(
        budget_seconds=30.0, base=0.5, cap=5.0, clock=lambda: patience.now, sleep=patience.sleep
    )
    ports = replace(bench.ports, objects=PatientStore(inner, policy))
    # The paid clip, stored earlier: a real H.264 file the real renderer reads.
    make_clip(tmp_path / "paid.mp4", width=64, height=36, fps=12, seconds=1)
    inner.put_file(CLIP, tmp_path / "paid.mp4", "video/mp4")
    return replace(bench, ports=ports), inner


def test_a_store_outage_reschedules_the_job_without_counting_an_attempt(
    outage: tuple[Bench, OutageStore],
) -> None:
    bench, store = outage
    job = processing(bench)
    store.down = True
    asyncio.run(process(bench.ports, job))
    waiting = bench.current(job)
    assert waiting.status is JobStatus.PROCESSING and waiting.attempts == 0
    assert waiting.source_object_key == CLIP, "the paid clip is kept"
    assert waiting.progress_message == STORAGE_WAITS[ErrorCode.STORAGE_UNAVAILABLE]
    assert waiting.next_run_at is not None and waiting.next_run_at >= bench.clock() + timedelta(seconds=5)
    assert waiting.lease_owner is None
    assert store.calls > 3, "the PatientStore tried again before giving up"
    assert waiting.frame_storage_urls is None


def test_a_passing_store_outage_is_waited_out_in_the_same_run(outage: tuple[Bench, OutageStore]) -> None:
    bench, store = outage
    job = processing(bench)
    store.down, store.down_calls = True, 4  # the first four calls fail, then it answers
    asyncio.run(process(bench.ports, job))
    done = bench.current(job)
    assert done.status is JobStatus.COMPLETED and done.frame_storage_urls
    assert all(store.exists(key) for key in done.frame_storage_urls.values())


def test_a_full_disk_waits_then_fails_storage_full_at_the_deadline(outage: tuple[Bench, OutageStore]) -> None:
    bench, store = outage
    job = processing(bench)
    store.full = (".gif",)  # the sheet fits, the GIF does not
    asyncio.run(process(bench.ports, job))
    waiting = bench.current(job)
    assert waiting.status is JobStatus.PROCESSING, "never completed with outputs missing"
    assert waiting.attempts == 0 and waiting.frame_storage_urls is None
    assert waiting.progress_message == STORAGE_WAITS[ErrorCode.STORAGE_FULL]
    assert waiting.next_run_at is not None
    delay = (waiting.next_run_at - bench.clock()).total_seconds()
    assert 30 <= delay <= 60

    for _ in range(MAX_PROCESS_ATTEMPTS + 2):  # more runs than a crash may have: still waiting
        asyncio.run(process(bench.ports, bench.current(job)))
    assert bench.current(job).status is JobStatus.PROCESSING and bench.current(job).attempts == 0

    bench.clock.advance(bench.ports.settings.job_deadline_seconds + 1)
    late = bench.current(job)
    assert past_deadline(bench.ports, late)
    asyncio.run(expire(bench.ports, late))
    failed = bench.current(job)
    assert failed.status is JobStatus.FAILED and failed.error_code == "STORAGE_FULL"
    assert failed.source_object_key == CLIP


def test_a_bare_enospc_is_a_storage_wait_too(bench: Bench) -> None:
    """As the render pool hands it back: a plain OSError with errno ENOSPC."""
    job = processing(bench)
    asyncio.run(wait_for_storage(bench.ports, job, ErrorCode.STORAGE_FULL, OSError(errno.ENOSPC, "full")))
    waiting = bench.current(job)
    assert waiting.status is JobStatus.PROCESSING and waiting.attempts == 0
    assert waiting.next_run_at is not None and waiting.next_run_at >= bench.clock() + timedelta(seconds=30)
