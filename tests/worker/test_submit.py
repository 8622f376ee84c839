"""The submit step's branches, over an in-memory provider and a fake clock."""

from __future__ import annotations

import asyncio

from pixelmotion.jobs import moves
from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.jobs.states import JobStatus
from pixelmotion.security import callback_url
from pixelmotion.worker.submit import settle_seconds, submit
from tests.worker.conftest import Bench


def test_a_pending_job_is_sent_once_and_queued(bench: Bench) -> None:
    job = bench.job()
    asyncio.run(submit(bench.ports, job))
    queued = bench.current(job)
    assert queued.status is JobStatus.QUEUED and len(bench.provider.created) == 1
    assert queued.luma_generation_id in bench.provider.generations


def test_a_generation_made_for_the_job_earlier_is_adopted_not_paid_again(bench: Bench) -> None:
    job = bench.job()
    bench.store.jobs.update_fields(job.id, JobStatus.PENDING, {"attempts": 1})  # a create failed before
    settings = bench.ports.settings
    earlier = bench.provider.add(
        "queued", callback_url=callback_url(settings.callback_base_url, settings.secret_key, job.id)
    )
    bench.provider.add("queued", callback_url="http://127.0.0.1:9/v1/callbacks/luma/another-job")
    asyncio.run(submit(bench.ports, bench.current(job)))
    adopted = bench.current(job)
    assert bench.provider.created == []
    assert adopted.status is JobStatus.QUEUED and adopted.luma_generation_id == earlier.id


def test_an_earlier_create_whose_answer_was_lost_is_given_time_to_land(bench: Bench) -> None:
    job = bench.job()
    bench.store.jobs.update_fields(job.id, JobStatus.PENDING, {"submitted_at": bench.clock()})
    asyncio.run(submit(bench.ports, bench.current(job)))
    waiting = bench.current(job)
    assert bench.provider.created == [] and waiting.status is JobStatus.PENDING
    assert waiting.next_run_at is not None and waiting.next_run_at > bench.clock()
    bench.clock.advance(settle_seconds(bench.ports) + 1)  # it never showed up: create now
    asyncio.run(submit(bench.ports, bench.current(job)))
    assert len(bench.provider.created) == 1 and bench.current(job).status is JobStatus.QUEUED


def test_a_job_is_held_back_while_the_provider_caps_are_full(bench: Bench) -> None:
    capped = bench.with_caps(ProviderCaps(max_in_flight=1))
    running = capped.job("already running")
    now = capped.clock()
    capped.store.jobs.apply(running.id, moves.submitted("gen-running", now=now, check_at=now))
    job = capped.job()
    asyncio.run(submit(capped.ports, job))
    held = capped.current(job)
    assert capped.provider.created == []
    assert held.status is JobStatus.PENDING and held.submitted_at is None
    assert (held.progress_message or "").startswith("Waiting: 1 videos are being generated")
    assert held.next_run_at is not None and held.next_run_at > now
