"""Faults of the video model's side: failed generations, lost, repeated, reordered and late
callbacks, refused and unanswered creates, a revoked key. Each job ends where it must, and
never costs more than one paid generation."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import (
    Bill,
    app_bill,
    create_job,
    error_code,
    finish,
    processing_runs,
    service,
    stats,
)
from tests.running import Running
from tests.server import wait_for

ONE_PAID = {"created": 1, "failed": 0, "paid": 1, "deleted": 0}


@pytest.mark.parametrize("reason", ["Job failed", "Error dispatching job"])
def test_a_refunded_failure_is_resubmitted_once_and_completes(shared: Running, reason: str) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, f"[[fault:fail_generation*1={reason}]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "completed", job
        assert bill.of(job_id) == {"created": 2, "failed": 1, "paid": 1, "deleted": 0}
        assert bill.faults() == {"fail_generation": 1}
        assert processing_runs(shared, job_id) == 1
        stored = shared.services.repository.jobs.get(job_id)
        assert stored is not None and stored.resubmits == 1


def test_a_refunded_failure_twice_fails_the_job(shared: Running) -> None:
    """One resubmit only: a second refunded failure ends the job, and nothing is paid."""
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, "[[fault:fail_generation=Job failed]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "failed" and error_code(job) == "LUMA_GENERATION_FAILED", job
        assert "Job failed" in job["error"]["message"]
        assert bill.of(job_id) == {"created": 2, "failed": 2, "paid": 0, "deleted": 0}
        assert processing_runs(shared, job_id) == 0


def test_a_moderation_failure_fails_the_job_without_a_resubmit(shared: Running) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, "[[fault:fail_generation=Advanced prompt moderation failed]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "failed" and error_code(job) == "LUMA_GENERATION_FAILED", job
        assert "Advanced prompt moderation failed" in job["error"]["message"]
        assert bill.of(job_id) == {"created": 1, "failed": 1, "paid": 0, "deleted": 0}
        assert processing_runs(shared, job_id) == 0


def test_with_every_callback_dropped_jobs_complete_by_polling(shared: Running) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, "[[fault:drop_callbacks]]")
        job = finish(shared, client, job_id, timeout=30)
        assert job["status"] == "completed", job
        assert processing_runs(shared, job_id) == 1
        assert shared.services.repository.callbacks.for_job(job_id) == []  # polling did it all
        assert stats(shared)["callbacks_dropped"] - bill.before["callbacks_dropped"] == 2
        assert bill.of(job_id) == ONE_PAID


@pytest.mark.parametrize("fault", ["duplicate_callbacks", "reorder_callbacks", "delay_callbacks"])
def test_repeated_reordered_or_late_callbacks_process_once(shared: Running, fault: str) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, f"[[fault:{fault}]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "completed", job
        assert processing_runs(shared, job_id) == 1
        assert bill.of(job_id) == ONE_PAID
        # Every callback reaches us, late ones included (some after completion).
        sent = 4 if fault == "duplicate_callbacks" else 2
        wait_for(
            lambda: len(shared.services.repository.callbacks.for_job(job_id)) == sent,
            timeout=10,
            what=f"{sent} callbacks",
        )
        callbacks = shared.services.repository.callbacks.for_job(job_id)
        assert "refused" not in [c.outcome for c in callbacks]
        # A callback may beat the commit of the generation id ("unconfirmed": kept, confirmed
        # with the provider by the worker); it must then name the job's own generation.
        stored = shared.services.repository.jobs.get(job_id)
        assert stored is not None
        assert all(c.generation_id == stored.luma_generation_id for c in callbacks)
        now = client.get(f"/v1/jobs/{job_id}").json()
        stable = ("status", "progress", "updatedAt", "completedAt", "error", "outputs")
        assert {k: now.get(k) for k in stable} == {k: job.get(k) for k in stable}  # late news: no change
        statuses = [e.status.value for e in shared.services.repository.events.after(job_id=job_id)]
        assert statuses.count("completed") == 1
        order = ["pending", "queued", "dreaming", "processing", "completed"]
        ranks = [order.index(status) for status in statuses]
        assert ranks == sorted(ranks), statuses  # never a step back


def test_rate_limited_creates_honour_retry_after_and_complete(shared: Running) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        began = time.monotonic()
        job_id = create_job(client, "[[fault:create_429*2]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "completed", job
        assert time.monotonic() - began >= 2.0  # two refusals, each with Retry-After: 1
        assert bill.faults() == {"create_429": 2}
        assert bill.of(job_id) == ONE_PAID
        assert processing_runs(shared, job_id) == 1


def test_server_errors_on_create_are_retried(shared: Running) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, "[[fault:create_500*1]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "completed", job
        assert bill.faults() == {"create_500": 1}
        assert bill.of(job_id) == ONE_PAID
        assert processing_runs(shared, job_id) == 1


def test_a_create_that_never_answers_is_paid_once(shared: Running) -> None:
    """The double-billing trap: the create is billed, its answer never comes. The worker must
    find that generation (its callback URL names the job) instead of creating another."""
    bill = Bill(shared)
    with shared.client() as client:
        began = time.monotonic()
        job_id = create_job(client, "[[fault:create_timeout*1]]")
        job = finish(shared, client, job_id, timeout=40)
        assert job["status"] == "completed", job
        assert bill.faults() == {"create_timeout": 1}
        assert bill.of(job_id) == ONE_PAID
        assert processing_runs(shared, job_id) == 1
        # PIXELMOTION_PROVIDER_TIMEOUT_SECONDS (1.5 s here) bounds the wait for the lost answer.
        assert time.monotonic() - began < 20


def test_a_refused_api_key_keeps_jobs_pending_until_it_works(shared: Running) -> None:
    bill = Bill(shared)
    emulator = shared.services.emulator
    accepted = emulator.settings.api_key
    emulator.settings.api_key = "revoked-key"  # the provider now refuses ours
    try:
        with shared.client() as client:
            job_id = create_job(client)

            def health() -> httpx.Response:
                return httpx.get(f"{shared.url}/healthz")

            def provider_failing() -> bool:
                response = health()
                return response.status_code == 503 and response.json()["checks"]["provider"]["ok"] is False

            wait_for(provider_failing, timeout=10, what="/healthz to report the provider failing")
            # Several refused attempts (PIXELMOTION_AUTH_RETRY_SECONDS=0.5): each one puts the
            # job back in line for a later time.
            retry_times: set[object] = set()

            def refused_three_times() -> bool:
                stored = shared.services.repository.jobs.get(job_id)
                if stored is not None and stored.next_run_at is not None:
                    retry_times.add(stored.next_run_at)
                return len(retry_times) >= 3

            wait_for(refused_three_times, timeout=15, what="three refused attempts")
            job = client.get(f"/v1/jobs/{job_id}").json()
            assert job["status"] == "pending" and job["error"] is None, job
            stored = shared.services.repository.jobs.get(job_id)
            assert stored is not None and stored.attempts == 0  # the job did nothing wrong
            assert "401" in health().json()["checks"]["provider"]["error"]
            assert stats(shared)["created"] == bill.before["created"]

            emulator.settings.api_key = accepted  # the key works again
            job = finish(shared, client, job_id, timeout=30)
            assert job["status"] == "completed", job
            assert health().json()["ok"] is True
            assert bill.of(job_id) == ONE_PAID
            assert processing_runs(shared, job_id) == 1
    finally:
        emulator.settings.api_key = accepted


@pytest.mark.postgres
def test_callback_faults_on_postgresql(tmp_path: Path) -> None:
    """The key faults at once on PostgreSQL: lost, repeated and reordered callbacks, and the
    unanswered create; every job completes, each paid and processed once."""
    from tests.databases import postgres_schema_url

    faults = ["drop_callbacks", "duplicate_callbacks", "reorder_callbacks", "create_timeout*1"]
    with (
        postgres_schema_url() as url,
        service(tmp_path, url, CALLBACK_GRACE_SECONDS="1", PROVIDER_TIMEOUT_SECONDS="1.5") as app,
        app.client() as client,
    ):
        job_ids = [create_job(client, f"[[fault:{fault}]]") for fault in faults]
        for job_id in job_ids:
            job = finish(app, client, job_id, timeout=40)
            assert job["status"] == "completed", job
            assert processing_runs(app, job_id) == 1
        assert app_bill(app) == {"created": len(faults), "failed": 0, "paid": len(faults), "deleted": 0}
