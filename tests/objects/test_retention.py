"""Retention on SQLite and PostgreSQL, with the local store (the S3 store's turn is in
test_s3_jobs.py): what is old and finished goes, everything else stays, and passes repeat
or overlap harmlessly."""

from __future__ import annotations

import asyncio
import threading
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pixelmotion.app.jobs import NoPaidClip, retry_job
from pixelmotion.config import Settings
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.moves import Move
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.objects import LocalObjectStore
from pixelmotion.store import Store, utcnow
from pixelmotion.worker.retention import RetentionReport, retention_pass, run_retention
from tests.server import run_async

DAYS = 7


@dataclass
class FakeServices:
    """What retention reads from ``Services``."""

    settings: Settings
    repository: Store
    store: LocalObjectStore


@pytest.fixture
def services(repository: Store, tmp_path: Path) -> FakeServices:
    return FakeServices(Settings(retention_days=DAYS), repository, LocalObjectStore(tmp_path / "objects"))


def finished(services: Any, status: JobStatus, days_ago: float) -> Job:
    """A job that reached ``status`` ``days_ago`` days ago, with stored files and a callback."""
    then = utcnow() - timedelta(days=days_ago)
    spec = build_spec(prompt="a cat", width=16, height=16, color_count=4, fps=12)
    repository: Store = services.repository
    job = repository.jobs.create(spec, user_id="alice", provider="emulator", now=then)
    clip = f"jobs/{job.id}/source.mp4"
    for name in ("source.mp4", "animation.gif", "sheet.png"):
        services.store.put_bytes(f"jobs/{job.id}/{name}", b"x", "application/octet-stream")
    repository.callbacks.record(
        job_id=job.id,
        user_id="alice",
        generation_id="g",
        state="completed",
        body={},
        outcome="applied",
        now=then,
    )
    moved = repository.jobs.apply(
        job.id,
        Move(status, frozenset({JobStatus.PENDING}), {"source_object_key": clip}),
        now=then,
    )
    assert moved is not None
    return moved


def has_files(services: Any, job: Job) -> bool:
    return bool(services.store.exists(f"jobs/{job.id}/animation.gif"))


def test_old_finished_jobs_lose_their_files_events_and_callbacks(services: FakeServices) -> None:
    old = [
        finished(services, status, DAYS + 1)
        for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)
    ]
    recent = finished(services, JobStatus.COMPLETED, DAYS - 1)
    # Unfinished, however old (e.g. its worker died): not retention's business.
    stuck = finished(services, JobStatus.PROCESSING, DAYS + 30)

    report = retention_pass(services)  # type: ignore[arg-type]
    assert (report.jobs, report.objects, report.events) == (3, 9, 6)
    repository = services.repository
    for job in old:
        assert not has_files(services, job)
        assert repository.events.after(job_id=job.id) == []
        assert repository.callbacks.for_job(job.id) == []
        kept = repository.jobs.get(job.id)
        assert kept is not None and kept.status is job.status  # the row itself stays
        assert kept.source_object_key is None
    for job in (recent, stuck):
        assert has_files(services, job)
        assert len(repository.events.after(job_id=job.id)) == 2
        assert len(repository.callbacks.for_job(job.id)) == 1


def test_a_forgotten_failed_job_has_no_clip_to_retry_from(services: FakeServices) -> None:
    job = finished(services, JobStatus.FAILED, DAYS + 1)
    retention_pass(services)  # type: ignore[arg-type]
    forgotten = services.repository.jobs.get(job.id)
    assert forgotten is not None
    with pytest.raises(NoPaidClip):
        retry_job(services.repository, forgotten)


def test_a_job_retried_meanwhile_is_left_alone(services: FakeServices) -> None:
    job = finished(services, JobStatus.FAILED, DAYS + 1)
    cutoff = utcnow() - timedelta(days=DAYS)
    assert services.repository.retention.finished_before(cutoff) == [job.id]
    retry_job(services.repository, job)  # between the listing and the delete
    assert services.repository.retention.forget_finished([job.id], cutoff) == 0
    current = services.repository.jobs.get(job.id)
    assert current is not None and current.source_object_key == f"jobs/{job.id}/source.mp4"
    assert len(services.repository.events.after(job_id=job.id)) == 3


def test_old_uploads_and_stray_callbacks_go_too(services: FakeServices) -> None:
    store, repository = services.store, services.repository
    store.put_bytes("uploads/owner/old", b"v", "video/mp4")
    store.put_bytes("uploads/owner/new", b"v", "video/mp4")
    then = utcnow() - timedelta(days=DAYS + 1)
    old_time = then.timestamp()
    import os

    os.utime(store.root / "uploads/owner/old", (old_time, old_time))
    stray, recent_stray = str(uuid.uuid4()), str(uuid.uuid4())
    for job_id, when in ((stray, then), (recent_stray, utcnow())):
        repository.callbacks.record(
            job_id=job_id, user_id=None, generation_id=None, state=None, body={}, outcome="refused", now=when
        )
    report = retention_pass(services)  # type: ignore[arg-type]
    assert (report.uploads, report.callbacks) == (1, 1)
    assert not store.exists("uploads/owner/old") and store.exists("uploads/owner/new")
    assert repository.callbacks.for_job(stray) == [] and len(repository.callbacks.for_job(recent_stray)) == 1


def test_passes_repeat_and_overlap_harmlessly(services: FakeServices) -> None:
    jobs = [finished(services, JobStatus.COMPLETED, DAYS + 2) for _ in range(5)]
    reports: list[RetentionReport] = []
    errors: list[BaseException] = []

    def one_pass() -> None:
        try:
            reports.append(retention_pass(services))  # type: ignore[arg-type]
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=one_pass) for _ in range(3)]  # three workers at once
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.events for r in reports) == 10  # each event deleted once, whoever did it
    assert all(not has_files(services, job) for job in jobs)
    assert retention_pass(services) == RetentionReport()  # type: ignore[arg-type]


def test_batches_cover_more_jobs_than_one_query(
    services: FakeServices, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pixelmotion.worker.retention.BATCH", 2)
    jobs = [finished(services, JobStatus.COMPLETED, DAYS + 1) for _ in range(5)]
    assert retention_pass(services).jobs == 5  # type: ignore[arg-type]
    assert not any(has_files(services, job) for job in jobs)


def test_off_by_default(services: FakeServices) -> None:
    services.settings = Settings()  # retention_days 0
    job = finished(services, JobStatus.COMPLETED, 3650)
    assert retention_pass(services) == RetentionReport()  # type: ignore[arg-type]
    assert has_files(services, job)
    run_async(asyncio.wait_for(run_retention(services), 1))  # type: ignore[arg-type]  # returns at once


def test_the_loop_runs_passes_until_cancelled(services: FakeServices) -> None:
    job = finished(services, JobStatus.COMPLETED, DAYS + 1)

    async def run_briefly() -> None:
        task = asyncio.create_task(run_retention(services, interval_seconds=0.05))  # type: ignore[arg-type]
        for _ in range(200):
            await asyncio.sleep(0.02)
            if not has_files(services, job):
                break
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_async(run_briefly())
    assert not has_files(services, job)
