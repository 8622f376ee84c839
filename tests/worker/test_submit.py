"""The submit step's branches, over an in-memory provider and a fake clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from pixelmotion.app.callbacks import deadline_of
from pixelmotion.jobs import moves
from pixelmotion.jobs.caps import ProviderCaps
from pixelmotion.jobs.states import JobStatus
from pixelmotion.providers.base import ProviderError
from pixelmotion.security import callback_url
from pixelmotion.worker.poll import expire
from pixelmotion.worker.submit import MAX_SUBMIT_ATTEMPTS, UNREACHABLE_WAIT_CAP, settle_seconds, submit
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
    later = now + timedelta(minutes=5)  # its callback is not due: nothing else to claim
    capped.store.jobs.apply(running.id, moves.submitted("gen-running", now=now, check_at=later))
    job = capped.job()
    asyncio.run(submit(capped.ports, job))
    held = capped.current(job)
    assert capped.provider.created == []
    assert held.status is JobStatus.PENDING and held.submitted_at is None
    assert (held.progress_message or "").startswith("Waiting: 1 videos are being generated")
    assert held.next_run_at == job.next_run_at, "it keeps its place in line"
    assert capped.store.queue.claim("w", lease_seconds=30, caps=capped.ports.admission.caps, now=now) is None


def test_jobs_held_back_go_out_in_the_order_they_came(bench: Bench) -> None:
    """The later job was held back first, the earlier one last: once a slot frees, the
    earlier one is still sent first (and the later one is then first in line)."""
    capped = bench.with_caps(ProviderCaps(max_in_flight=1))
    caps = capped.ports.admission.caps
    running = capped.job("already running")
    capped.store.jobs.apply(
        running.id, moves.submitted("gen-running", now=capped.clock(), check_at=capped.clock())
    )
    earlier = capped.job("earlier")
    capped.clock.advance(1)
    later = capped.job("later")
    asyncio.run(submit(capped.ports, later))
    capped.clock.advance(1)
    asyncio.run(submit(capped.ports, earlier))
    assert capped.provider.created == []

    capped.store.jobs.apply(
        running.id, moves.clip_ready("http://127.0.0.1:9/clip.mp4", now=capped.clock(), provider_ms=None)
    )
    claimed = capped.store.queue.claim("w", lease_seconds=30, caps=caps, now=capped.clock())
    assert claimed is not None and claimed.id == earlier.id
    asyncio.run(submit(capped.ports, claimed))
    assert capped.current(earlier).status is JobStatus.QUEUED
    assert capped.store.queue.queue_position(capped.current(later)) == 1


def unreachable(*, ambiguous: bool = False) -> ProviderError:
    """What the Luma provider raises when no answer comes (refused, DNS, timed out)."""
    kind = "timed out" if ambiguous else "connection failed"
    return ProviderError(f"Luma request {kind}", retryable=True, ambiguous=ambiguous)


def test_an_unreachable_provider_keeps_the_job_pending_until_its_deadline(bench: Bench) -> None:
    job = bench.job()
    bench.provider.fail_creates = [unreachable() for _ in range(3 * MAX_SUBMIT_ATTEMPTS)]
    for _ in range(2 * MAX_SUBMIT_ATTEMPTS):  # far more tries than a failing provider gets
        asyncio.run(submit(bench.ports, bench.current(job)))
        waiting = bench.current(job)
        assert waiting.status is JobStatus.PENDING and waiting.attempts == 0
        assert waiting.next_run_at is not None and waiting.next_run_at > bench.clock()
        assert waiting.next_run_at <= bench.clock() + timedelta(seconds=UNREACHABLE_WAIT_CAP)
        bench.clock.advance((waiting.next_run_at - bench.clock()).total_seconds())
    assert "unreachable" in (waiting.progress_message or "")
    health = bench.ports.provider_health.snapshot()
    assert health["ok"] is False and "unreachable" in health["error"]

    bench.clock.advance(bench.ports.settings.job_deadline_seconds)  # the deadline still applies
    late = bench.current(job)
    deadline = deadline_of(late, bench.ports.settings.job_deadline_seconds)
    assert late.next_run_at is not None and deadline is not None and late.next_run_at <= deadline
    asyncio.run(expire(bench.ports, late))
    assert bench.current(job).status is JobStatus.FAILED and bench.current(job).error_code == "TIMEOUT"


def test_a_create_lost_in_the_outage_is_adopted_when_the_provider_returns(bench: Bench) -> None:
    job = bench.job()
    settings = bench.ports.settings
    # The create reached the provider (and was billed), then the connection timed out.
    landed = bench.provider.add(
        "queued", callback_url=callback_url(settings.callback_base_url, settings.secret_key, job.id)
    )
    bench.provider.fail_creates = [unreachable(ambiguous=True)]
    asyncio.run(submit(bench.ports, job))
    waiting = bench.current(job)
    assert waiting.status is JobStatus.PENDING and waiting.submitted_at is not None
    assert bench.ports.provider_health.ok is False
    bench.clock.advance(settle_seconds(bench.ports) + 1)
    asyncio.run(submit(bench.ports, bench.current(job)))
    adopted = bench.current(job)
    assert bench.provider.created == [], "nothing paid twice"
    assert adopted.status is JobStatus.QUEUED and adopted.luma_generation_id == landed.id
    assert bench.ports.provider_health.ok is True  # it answered again


def test_a_provider_that_answers_500_still_has_a_bounded_number_of_tries(bench: Bench) -> None:
    job = bench.job()
    bench.store.jobs.update_fields(job.id, JobStatus.PENDING, {"attempts": MAX_SUBMIT_ATTEMPTS - 1})
    bench.provider.fail_creates = [ProviderError("HTTP 500", status=500, retryable=True)]
    asyncio.run(submit(bench.ports, bench.current(job)))
    failed = bench.current(job)
    assert failed.status is JobStatus.FAILED and failed.error_code == "PROVIDER_UNAVAILABLE"
