from dataclasses import replace
from datetime import UTC, datetime, timedelta

from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.jobs.updates import move_for_generation

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def make_job(status: JobStatus = JobStatus.QUEUED, submitted_at: datetime | None = None) -> Job:
    return Job(
        id="00000000-0000-0000-0000-000000000001",
        user_id="u",
        status=status,
        progress=20,
        progress_message=None,
        prompt="a cat",
        provider_prompt="a cat",
        width=64,
        height=64,
        color_count=16,
        fps=24,
        duration=5,
        model="ray-2",
        resolution="720p",
        aspect_ratio="1:1",
        loop=False,
        dither="none",
        fit="crop",
        provider="emulator",
        created_at=NOW,
        updated_at=NOW,
        submitted_at=submitted_at,
    )


def test_dreaming_pushes_the_poll_past_the_grace_period() -> None:
    move = move_for_generation(
        make_job(), state="dreaming", failure_reason=None, video_url=None, now=NOW, grace_seconds=90
    )
    assert move is not None and move.target is JobStatus.DREAMING
    assert move.values["next_run_at"] == NOW + timedelta(seconds=90)


def test_completed_starts_processing_now_and_times_the_provider() -> None:
    job = make_job(submitted_at=NOW - timedelta(seconds=42))
    move = move_for_generation(
        job, state="completed", failure_reason=None, video_url="http://v", now=NOW, grace_seconds=90
    )
    assert move is not None and move.target is JobStatus.PROCESSING
    assert move.values["luma_video_url"] == "http://v"
    assert move.values["luma_processing_time_ms"] == 42_000
    assert move.values["next_run_at"] == NOW
    assert JobStatus.DREAMING in move.sources and JobStatus.PROCESSING not in move.sources


def test_failed_carries_the_reason_and_cannot_fail_a_job_being_processed() -> None:
    move = move_for_generation(
        make_job(),
        state="failed",
        failure_reason="Frame moderation failed",
        video_url=None,
        now=NOW,
        grace_seconds=90,
    )
    assert move is not None and move.target is JobStatus.FAILED
    assert move.values["error_code"] == "LUMA_GENERATION_FAILED"
    assert "Frame moderation failed" in move.values["error_message"]
    assert JobStatus.PROCESSING not in move.sources


def test_queued_asks_for_nothing() -> None:
    assert (
        move_for_generation(
            make_job(), state="queued", failure_reason=None, video_url=None, now=NOW, grace_seconds=90
        )
        is None
    )


def test_a_refunded_failure_sends_the_job_back_for_one_more_generation() -> None:
    job = make_job(JobStatus.DREAMING)
    move = move_for_generation(
        job, state="failed", failure_reason="Job failed", video_url=None, now=NOW, grace_seconds=90
    )
    assert move is not None and move.target is JobStatus.PENDING
    assert move.values["luma_generation_id"] is None and move.values["resubmits"] == 1
    again = replace(job, resubmits=1)
    final = move_for_generation(
        again, state="failed", failure_reason="Job failed", video_url=None, now=NOW, grace_seconds=90
    )
    assert final is not None and final.target is JobStatus.FAILED


def test_a_moderation_failure_is_final() -> None:
    move = move_for_generation(
        make_job(),
        state="failed",
        failure_reason="Contains blacklisted words",
        video_url=None,
        now=NOW,
        grace_seconds=90,
    )
    assert move is not None and move.target is JobStatus.FAILED
