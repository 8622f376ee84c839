"""Faults of the video model's side: failed generations, lost, repeated, reordered and late
callbacks, refused and unanswered creates, a revoked key. Each job ends where it must, and
never costs more than one paid generation."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.conftest import (
    app_bill,
    create_job,
    error_code,
    finish,
    processing_runs,
    service,
    stats,
)
from tests.server import wait_for


@pytest.mark.parametrize("reason", ["Job failed", "Error dispatching job"])
def test_a_refunded_failure_is_resubmitted_once_and_completes(
    tmp_path: Path, sqlite_url: str, reason: str
) -> None:
    with service(tmp_path, sqlite_url) as app, app.client() as client:
        job_id = create_job(client, f"[[fault:fail_generation*1={reason}]]")
        job = finish(app, client, job_id)
        assert job["status"] == "completed", job
        assert app_bill(app) == {"created": 2, "failed": 1, "paid": 1, "deleted": 0}
        assert processing_runs(app, job_id) == 1
        stored = app.services.repository.get(job_id)
        assert stored is not None and stored.resubmits == 1


def test_a_refunded_failure_twice_fails_the_job(tmp_path: Path, sqlite_url: str) -> None:
    """One resubmit only: a second refunded failure ends the job, and nothing is paid."""
    with service(tmp_path, sqlite_url) as app, app.client() as client:
        job_id = create_job(client, "[[fault:fail_generation=Job failed]]")
        job = finish(app, client, job_id)
        assert job["status"] == "failed" and error_code(job) == "LUMA_GENERATION_FAILED", job
        assert "Job failed" in job["error"]["message"]
        assert app_bill(app) == {"created": 2, "failed": 2, "paid": 0, "deleted": 0}
        assert processing_runs(app, job_id) == 0


def test_a_moderation_failure_fails_the_job_without_a_resubmit(tmp_path: Path, sqlite_url: str) -> None:
    with service(tmp_path, sqlite_url) as app, app.client() as client:
        job_id = create_job(client, "[[fault:fail_generation=Advanced prompt moderation failed]]")
        job = finish(app, client, job_id)
        assert job["status"] == "failed" and error_code(job) == "LUMA_GENERATION_FAILED", job
        assert "Advanced prompt moderation failed" in job["error"]["message"]
        assert app_bill(app) == {"created": 1, "failed": 1, "paid": 0, "deleted": 0}
        assert processing_runs(app, job_id) == 0


def test_with_every_callback_dropped_jobs_complete_by_polling(tmp_path: Path, database_url: str) -> None:
    with (
        service(tmp_path, database_url, CALLBACK_GRACE_SECONDS="1") as app,
        app.client() as client,
    ):
        job_ids = [create_job(client, "[[fault:drop_callbacks]]") for _ in range(2)]
        for job_id in job_ids:
            job = finish(app, client, job_id, timeout=30)
            assert job["status"] == "completed", job
            assert processing_runs(app, job_id) == 1
            assert app.services.repository.callbacks_for(job_id) == []  # polling did it all
        counters = stats(app)
        assert counters["callbacks_dropped"] >= 4 and counters["callbacks_sent"] == 0
        assert app_bill(app) == {"created": 2, "failed": 0, "paid": 2, "deleted": 0}


@pytest.mark.parametrize("fault", ["duplicate_callbacks", "reorder_callbacks", "delay_callbacks"])
def test_repeated_reordered_or_late_callbacks_process_once(tmp_path: Path, sqlite_url: str, fault: str) -> None:
    # A long grace: the callbacks alone must carry the job.
    with service(tmp_path, sqlite_url, CALLBACK_GRACE_SECONDS="60") as app, app.client() as client:
        job_id = create_job(client, f"[[fault:{fault}]]")
        job = finish(app, client, job_id)
        assert job["status"] == "completed", job
        assert processing_runs(app, job_id) == 1
        assert app_bill(app) == {"created": 1, "failed": 0, "paid": 1, "deleted": 0}
        # Every callback reaches us, late ones included (they arrive after completion).
        sent = 4 if fault == "duplicate_callbacks" else 2
        wait_for(
            lambda: len(app.services.repository.callbacks_for(job_id)) == sent,
            timeout=10,
            what=f"{sent} callbacks",
        )
        outcomes = [c["outcome"] for c in app.services.repository.callbacks_for(job_id)]
        assert "refused" not in outcomes and "unconfirmed" not in outcomes
        assert client.get(f"/v1/jobs/{job_id}").json() == job  # late news changed nothing
        statuses = [e.status.value for e in app.services.repository.events_after(job_id=job_id)]
        assert statuses.count("completed") == 1
        if fault == "reorder_callbacks":
            assert "dreaming" not in statuses  # "dreaming" came after "completed": ignored


def test_rate_limited_creates_honour_retry_after_and_complete(tmp_path: Path, sqlite_url: str) -> None:
    with service(tmp_path, sqlite_url) as app, app.client() as client:
        began = time.monotonic()
        job_id = create_job(client, "[[fault:create_429*2]]")
        job = finish(app, client, job_id)
        assert job["status"] == "completed", job
        assert time.monotonic() - began >= 2.0  # two refusals, each with Retry-After: 1
        assert stats(app)["faults"].get("create_429") == 2
        assert app_bill(app) == {"created": 1, "failed": 0, "paid": 1, "deleted": 0}
        assert processing_runs(app, job_id) == 1


def test_server_errors_on_create_are_retried(tmp_path: Path, database_url: str) -> None:
    with service(tmp_path, database_url) as app, app.client() as client:
        job_id = create_job(client, "[[fault:create_500*2]]")
        job = finish(app, client, job_id)
        assert job["status"] == "completed", job
        assert stats(app)["faults"].get("create_500") == 2
        assert app_bill(app) == {"created": 1, "failed": 0, "paid": 1, "deleted": 0}
        assert processing_runs(app, job_id) == 1


def test_a_create_that_never_answers_is_paid_once(tmp_path: Path, database_url: str) -> None:
    """The double-billing trap: the create is billed, its answer never comes. The worker must
    find that generation (its callback URL names the job) instead of creating another."""
    with (
        service(tmp_path, database_url, PROVIDER_TIMEOUT_SECONDS="1.5") as app,
        app.client() as client,
    ):
        began = time.monotonic()
        job_id = create_job(client, "[[fault:create_timeout*1]]")
        job = finish(app, client, job_id, timeout=40)
        assert job["status"] == "completed", job
        assert stats(app)["faults"].get("create_timeout") == 1
        assert app_bill(app) == {"created": 1, "failed": 0, "paid": 1, "deleted": 0}
        assert processing_runs(app, job_id) == 1
        # The timeout setting bounds the wait for the lost answer.
        assert time.monotonic() - began < 15, "PIXELMOTION_PROVIDER_TIMEOUT_SECONDS not honoured"


def test_a_refused_api_key_keeps_jobs_pending_until_it_works(tmp_path: Path, sqlite_url: str) -> None:
    with (
        service(tmp_path, sqlite_url, AUTH_RETRY_SECONDS="0.5") as app,
        app.client() as client,
    ):
        emulator = app.services.emulator
        accepted = emulator.settings.api_key
        emulator.settings.api_key = "revoked-key"  # the provider now refuses ours
        job_id = create_job(client)

        def health() -> dict[str, object]:
            body: dict[str, object] = httpx.get(f"{app.url}/healthz").json()
            return body

        def provider_failing() -> bool:
            response = httpx.get(f"{app.url}/healthz")
            return response.status_code == 503 and response.json()["checks"]["provider"]["ok"] is False

        wait_for(provider_failing, timeout=10, what="/healthz to report the provider failing")
        time.sleep(1.5)  # several refused attempts
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "pending" and job["error"] is None, job
        stored = app.services.repository.get(job_id)
        assert stored is not None and stored.attempts == 0  # the job did nothing wrong
        assert "401" in str(health()["checks"])

        emulator.settings.api_key = accepted  # the key works again
        job = finish(app, client, job_id, timeout=30)
        assert job["status"] == "completed", job
        assert health()["ok"] is True
        assert app_bill(app) == {"created": 1, "failed": 0, "paid": 1, "deleted": 0}
        assert processing_runs(app, job_id) == 1
