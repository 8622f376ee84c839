"""The poll step's branches and the deadline, over an in-memory provider and a fake clock."""

from __future__ import annotations

import asyncio

from pixelmotion.jobs import moves
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.worker.poll import poll
from pixelmotion.worker.submit import submit
from tests.worker.conftest import Bench


def sent(bench: Bench, job: Job) -> Job:
    """The job, sent: the provider has its generation, queued."""
    asyncio.run(submit(bench.ports, job))
    return bench.current(job)


def test_a_refunded_failure_is_sent_again_once_then_fails(bench: Bench) -> None:
    first = sent(bench, bench.job())
    assert first.luma_generation_id is not None
    bench.provider.set_state(first.luma_generation_id, "failed", "Job failed")  # Luma refunds it
    asyncio.run(poll(bench.ports, first))
    again = bench.current(first)
    assert again.status is JobStatus.PENDING and again.resubmits == 1 and again.luma_generation_id is None
    second = sent(bench, again)
    assert len(bench.provider.created) == 2 and second.luma_generation_id != first.luma_generation_id
    assert second.luma_generation_id is not None
    bench.provider.set_state(second.luma_generation_id, "failed", "Job failed")
    asyncio.run(poll(bench.ports, second))
    ended = bench.current(second)
    assert ended.status is JobStatus.FAILED and ended.error_code == "LUMA_GENERATION_FAILED"
    assert len(bench.provider.created) == 2  # once more, not twice


def test_a_job_past_its_deadline_fails_and_its_generation_is_deleted(bench: Bench) -> None:
    job = sent(bench, bench.job())
    bench.provider.set_state(job.luma_generation_id or "", "dreaming")
    bench.clock.advance(bench.ports.settings.job_deadline_seconds + 1)
    asyncio.run(poll(bench.ports, job))
    expired = bench.current(job)
    assert expired.status is JobStatus.FAILED and expired.error_code == "TIMEOUT"
    assert bench.provider.deleted == [job.luma_generation_id]


def test_a_poll_before_the_deadline_applies_the_providers_answer(bench: Bench) -> None:
    job = sent(bench, bench.job())
    bench.provider.set_state(job.luma_generation_id or "", "completed")
    bench.clock.advance(60)
    asyncio.run(poll(bench.ports, job))
    assert bench.current(job).status is JobStatus.PROCESSING


def test_a_callback_moves_the_job_while_the_poll_asks_nothing_new(bench: Bench) -> None:
    job = sent(bench, bench.job())
    now = bench.clock()
    bench.store.jobs.apply(job.id, moves.dreaming(check_at=now, generation_id=job.luma_generation_id))
    asyncio.run(poll(bench.ports, bench.current(job)))  # the provider still says queued
    later = bench.current(job)
    assert later.status is JobStatus.DREAMING and later.attempts == 1  # looked again later
