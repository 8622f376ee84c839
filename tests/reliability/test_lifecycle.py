"""The job's own life: its deadline, and the user's cancel. Both stop what we pay for (the
provider generation is deleted) and neither lets later news move the job again."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from pixelmotion.security import callback_url
from tests.reliability.conftest import (
    app_bill,
    create_job,
    emulator_get,
    error_code,
    finish,
    processing_runs,
    service,
    stats,
)
from tests.server import wait_for


def run_past_deadline(tmp_path: Path, database_url: str, *, dream_seconds: str, phase: str) -> None:
    # The job may take 4 s, the model takes longer; the callback grace keeps its default of
    # 90 s, so only the deadline itself can end the job on time.
    with (
        service(
            tmp_path,
            database_url,
            EMULATOR_DREAM_SECONDS=dream_seconds,
            JOB_DEADLINE_SECONDS="4",
            CALLBACK_GRACE_SECONDS="90",
        ) as app,
        app.client() as client,
    ):
        began = time.monotonic()
        job_id = create_job(client)
        app.wait_for_status(client, job_id, {phase}, timeout=20)
        job = finish(app, client, job_id, timeout=20)
        assert job["status"] == "failed" and error_code(job) == "TIMEOUT", job
        assert time.monotonic() - began < 9, "the deadline was enforced late"
        statuses = [e.status.value for e in app.services.repository.events.after(job_id=job_id)]
        assert statuses[-2:] == [phase, "failed"], statuses
        wait_for(lambda: stats(app)["deleted"] == 1, timeout=10, what="the generation to be deleted")
        assert app_bill(app) == {"created": 1, "failed": 0, "paid": 1, "deleted": 1}
        assert processing_runs(app, job_id) == 0


def test_a_queued_job_past_its_deadline_times_out_and_its_generation_is_deleted(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Dreaming starts at 20% of 30 s: the job is still queued at its deadline.
    run_past_deadline(tmp_path, sqlite_url, dream_seconds="30", phase="queued")


def test_a_dreaming_job_past_its_deadline_times_out_and_its_generation_is_deleted(
    tmp_path: Path, sqlite_url: str
) -> None:
    # Dreaming starts at 20% of 10 s, by callback; the deadline comes 2 s later.
    run_past_deadline(tmp_path, sqlite_url, dream_seconds="10", phase="dreaming")


def test_cancel_deletes_the_generation_and_ignores_later_news(tmp_path: Path, sqlite_url: str) -> None:
    with (
        service(tmp_path, sqlite_url, EMULATOR_DREAM_SECONDS="3", CALLBACK_GRACE_SECONDS="1") as app,
        app.client() as client,
    ):
        dreaming = create_job(client)  # canceled while the model renders
        downloading = create_job(client, "[[fault:slow_asset]]")  # canceled mid-download
        app.wait_for_status(client, dreaming, {"dreaming"}, timeout=20)
        response = client.post(f"/v1/jobs/{dreaming}/cancel")
        assert response.status_code == 200 and response.json()["status"] == "canceled", response.text

        def downloading_now() -> bool:
            return processing_runs(app, downloading) == 1

        wait_for(downloading_now, timeout=30, what="the second job to start its download")
        response = client.post(f"/v1/jobs/{downloading}/cancel")
        assert response.status_code == 200 and response.json()["status"] == "canceled", response.text

        # Both generations are deleted; both were billed (a delete refunds nothing).
        wait_for(lambda: stats(app)["deleted"] == 2, timeout=10, what="both generations deleted")
        assert app_bill(app) == {"created": 2, "failed": 0, "paid": 2, "deleted": 2}

        # News after the cancel changes nothing: the generation's own "completed" callback,
        # sent as the provider would (a valid token), and polling.
        stored = app.services.repository.jobs.get(dreaming)
        assert stored is not None and stored.luma_generation_id
        body = {
            "id": stored.luma_generation_id,
            "state": "completed",
            "failure_reason": None,
            "assets": {"video": "http://127.0.0.1:9/clip.mp4"},
            "request": {},
        }
        url = callback_url(app.settings.callback_base_url, app.settings.secret_key, dreaming)
        assert httpx.post(url, json=body).status_code == 200
        time.sleep(3)  # the slow download ends meanwhile; processing must stop at its next step
        for job_id in (dreaming, downloading):
            job = client.get(f"/v1/jobs/{job_id}").json()
            assert job["status"] == "canceled" and error_code(job) == "CANCELED", job
            assert not job["outputs"], job
            statuses = [e.status.value for e in app.services.repository.events.after(job_id=job_id)]
            assert statuses[-1] == "canceled" and "completed" not in statuses
        assert processing_runs(app, dreaming) == 0
        assert processing_runs(app, downloading) == 1
        outcomes = [c.outcome for c in app.services.repository.callbacks.for_job(dreaming)]
        assert outcomes[-1] == "ignored"
        # A finished job cannot be canceled.
        assert client.post(f"/v1/jobs/{dreaming}/cancel").status_code == 409
        assert not emulator_get(
            app.settings.emulator_base_url, "/generations?limit=100", app.settings.emulator_api_key
        )["generations"]


def test_dreaming_news_never_schedules_the_next_look_past_the_deadline() -> None:
    from datetime import timedelta

    from pixelmotion.jobs.updates import move_for_generation
    from pixelmotion.store import utcnow

    now = utcnow()
    deadline = now + timedelta(seconds=5)
    job = None  # "dreaming" reads nothing of the job
    move = move_for_generation(
        job,  # type: ignore[arg-type]
        state="dreaming",
        failure_reason=None,
        video_url=None,
        now=now,
        grace_seconds=90,
        deadline_at=deadline,
    )
    assert move is not None and move.values["next_run_at"] == deadline
    later = move_for_generation(
        job,  # type: ignore[arg-type]
        state="dreaming",
        failure_reason=None,
        video_url=None,
        now=now,
        grace_seconds=2,
        deadline_at=deadline,
    )
    assert later is not None and later.values["next_run_at"] == now + timedelta(seconds=2)
