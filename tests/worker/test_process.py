"""The process step's failure branches: a damaged download is fetched again, a stored copy's
damage or the last attempt is final (the paid clip kept for a retry)."""

from __future__ import annotations

import asyncio

from pixelmotion.jobs import moves
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.worker.process import MAX_PROCESS_ATTEMPTS, process_failed
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
