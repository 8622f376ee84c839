"""Faults of the clip download: slow, cut, truncated, corrupt, not a video, endless. A clip
that can be had is processed once; one that stays damaged fails the job with the media
error's code after a few downloads, and never costs a second generation."""

from __future__ import annotations

import pytest

from pixelmotion.worker.process import MAX_PROCESS_ATTEMPTS
from tests.reliability.conftest import Bill, create_job, error_code, finish, processing_runs
from tests.running import Running

ONE_PAID = {"created": 1, "failed": 0, "paid": 1, "deleted": 0}


@pytest.mark.parametrize("fault", ["slow_asset", "cut_asset"])
def test_a_slow_or_cut_download_completes_in_one_run(shared: Running, fault: str) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, f"[[fault:{fault}]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "completed", job
        assert processing_runs(shared, job_id) == 1  # a cut is resumed within the run (Range)
        assert bill.of(job_id) == ONE_PAID
        assert bill.faults() == {fault: 1}
        stored = shared.services.repository.jobs.get(job_id)
        assert stored is not None and stored.source_object_key  # the paid clip, kept
        assert shared.services.store.exists(stored.source_object_key)


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("truncated_asset", "VIDEO_TRUNCATED"),
        ("corrupt_asset", "VIDEO_UNREADABLE"),
        ("wrong_content_type", "VIDEO_UNREADABLE"),
    ],
)
def test_a_clip_that_stays_damaged_fails_with_the_media_code(shared: Running, fault: str, code: str) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, f"[[fault:{fault}]]")
        job = finish(shared, client, job_id, timeout=60)
        assert job["status"] == "failed" and error_code(job) == code, job
        # Downloaded again each time (the damage might have been the CDN's), then given up.
        assert processing_runs(shared, job_id) == MAX_PROCESS_ATTEMPTS
        assert bill.of(job_id) == ONE_PAID
        assert job["outputs"] in (None, {}, [])


def test_an_endless_clip_stops_at_the_size_cap(shared: Running) -> None:
    bill = Bill(shared)
    with shared.client() as client:
        job_id = create_job(client, "[[fault:huge_asset]]")
        job = finish(shared, client, job_id)
        assert job["status"] == "failed" and error_code(job) == "VIDEO_TOO_LARGE", job
        assert processing_runs(shared, job_id) == 1  # too large stays too large: not retried
        assert bill.of(job_id) == ONE_PAID
        stored = shared.services.repository.jobs.get(job_id)
        assert stored is not None and stored.source_object_key is None  # nothing half-kept
