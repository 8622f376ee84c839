"""Provider callbacks over real HTTP: authenticated by the URL, applied once, never backwards."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.providers.base import GenerationRequest
from pixelmotion.providers.luma import LumaProvider
from pixelmotion.security import callback_url
from pixelmotion.store import utcnow
from tests.api.conftest import Running, start
from tests.server import run_async

REQUEST = {
    "prompt": "a blue whale jumping",
    "width": 32,
    "height": 32,
    "colorCount": 8,
    "fps": 12,
    "resolution": "540p",
}


def emulator_stats(app: Running) -> dict[str, Any]:
    response = httpx.get(
        f"{app.settings.emulator_base_url}/_stats",
        headers={"Authorization": f"Bearer {app.settings.emulator_api_key}"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def generation_body(app: Running, generation_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{app.settings.emulator_base_url}/generations/{generation_id}",
        headers={"Authorization": f"Bearer {app.settings.emulator_api_key}"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_a_wrong_token_is_refused_and_changes_nothing(app: Running) -> None:
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        job = app.wait_for_status(client, job_id, {"completed"})
        stored = app.services.repository.jobs.get(job_id)
        assert stored is not None and stored.luma_generation_id
        body = {
            **generation_body(app, stored.luma_generation_id),
            "state": "failed",
            "failure_reason": "Job failed",
        }
        for url in (
            f"{app.url}/v1/callbacks/luma/{job_id}?token=wrong",
            f"{app.url}/v1/callbacks/luma/{job_id}",
            f"{app.url}/functions/v1/video-webhook?jobId={job_id}&token=wrong",
        ):
            response = httpx.post(url, json=body)
            assert response.status_code == 401, url
            assert response.json()["error"]["code"] == "INVALID_CALLBACK_TOKEN"
        assert client.get(f"/v1/jobs/{job_id}").json() == job
        assert all(c.state != "failed" for c in app.services.repository.callbacks.for_job(job_id))


def test_the_completed_callback_delivered_again_changes_nothing(app: Running) -> None:
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        job = app.wait_for_status(client, job_id, {"completed"})
        stored = app.services.repository.jobs.get(job_id)
        assert stored is not None and stored.luma_generation_id
        completed = generation_body(app, stored.luma_generation_id)
        assert completed["state"] == "completed"
        url = callback_url(app.settings.public_url, app.settings.secret_key, job_id)
        for _ in range(3):
            response = httpx.post(url, json=completed)
            assert response.status_code == 200
            assert response.json()["outcome"] == "ignored"
        # The job unchanged. Not the service's estimate for a new job, which the job's own
        # completion may move in between (seen beside stress: 90 s, then 10 s).
        again = client.get(f"/v1/jobs/{job_id}").json()
        assert {**again, "estimatedTimeSeconds": None} == {**job, "estimatedTimeSeconds": None}
        events = app.services.repository.events.after(job_id=job_id)
        assert [e.status for e in events].count(JobStatus.PROCESSING) == 4  # one entry + 3 sub-steps, once
        assert [e.message for e in events].count("Downloading clip...") == 1
        outcomes = [c.outcome for c in app.services.repository.callbacks.for_job(job_id)]
        assert outcomes.count("ignored") >= 3
        # The stored callback bodies never keep the callback token.
        assert all(
            "token=REDACTED" in str(c.body) or "token=" not in str(c.body)
            for c in app.services.repository.callbacks.for_job(job_id)
        )
        assert stored.luma_generation_id and emulator_stats(app)["created"] == 1


def test_a_callback_for_another_generation_is_refused(sqlite_app: Running) -> None:
    app = sqlite_app
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        job = app.wait_for_status(client, job_id, {"completed"})
        stored = app.services.repository.jobs.get(job_id)
        assert stored is not None and stored.luma_generation_id
        body = {
            **generation_body(app, stored.luma_generation_id),
            "id": "5f1f6c2e-0000-4000-8000-000000000000",
        }
        response = httpx.post(callback_url(app.url, app.settings.secret_key, job_id), json=body)
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "GENERATION_MISMATCH"
        assert client.get(f"/v1/jobs/{job_id}").json() == job


def test_a_malformed_callback_body_is_a_400(sqlite_app: Running) -> None:
    app = sqlite_app
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        url = callback_url(app.url, app.settings.secret_key, job_id)
        for body in (b"not json", b"[]", b'{"id": "x", "state": "exploded"}'):
            response = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 400
            assert response.json()["error"]["code"] == "INVALID_CALLBACK"


def test_a_callback_that_beats_the_commit_is_confirmed_and_adopted_not_paid_twice(
    sqlite_app: Running,
) -> None:
    """The generation exists at the provider but the job never stored its id (the submit's
    commit lost the race, or the process died after create): its callbacks are kept, the
    worker confirms the generation with the provider and adopts it instead of creating again."""
    app = sqlite_app
    repository = app.services.repository
    spec = build_spec(
        prompt="a green frog hopping", width=32, height=32, color_count=8, fps=12, resolution="540p"
    )
    job = repository.jobs.create(
        spec, user_id="alice", provider="emulator", run_at=utcnow() + timedelta(hours=1)
    )
    provider = LumaProvider(api_key=app.settings.emulator_api_key, base_url=app.settings.emulator_base_url)
    generation = run_async(
        provider.create(
            GenerationRequest(
                prompt=spec.provider_prompt,
                resolution="540p",
                aspect_ratio="1:1",
                callback_url=callback_url(app.url, app.settings.secret_key, job.id),
            )
        )
    )
    with app.client() as client:
        done = app.wait_for_status(client, job.id, {"completed", "failed"})
    assert done["status"] == "completed"
    stored = repository.jobs.get(job.id)
    assert stored is not None and stored.luma_generation_id == generation.id
    assert "unconfirmed" in [c.outcome for c in repository.callbacks.for_job(job.id)]
    assert emulator_stats(app)["created"] == 1


def test_a_clip_url_pointing_inside_our_network_is_never_fetched(tmp_path: Path) -> None:
    """A callback with a valid token but a video URL at an internal address (say the token
    leaked): the worker refuses the download and the job fails with URL_NOT_ALLOWED."""
    from tests.api.conftest import start

    runner = start(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite'}", emulator_dream_seconds="30")
    app = next(runner)
    try:
        with app.client() as client:
            job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
            app.wait_for_status(client, job_id, {"queued", "dreaming"})
            stored = app.services.repository.jobs.get(job_id)
            assert stored is not None and stored.luma_generation_id
            body = generation_body(app, stored.luma_generation_id)
            body.update(state="completed", assets={"video": "http://127.0.0.1:5432/internal.mp4"})
            response = httpx.post(callback_url(app.url, app.settings.secret_key, job_id), json=body)
            assert response.status_code == 200
            failed = app.wait_for_status(client, job_id, {"failed", "completed"})
            assert failed["status"] == "failed"
            assert failed["error"]["code"] == "URL_NOT_ALLOWED"
    finally:
        next(runner, None)


def test_callbacks_signed_with_the_previous_key_stay_valid_while_rotating(tmp_path: Path) -> None:
    old, new = "old-callback-key-" + "x" * 20, "new-callback-key-" + "y" * 20
    database = f"sqlite:///{tmp_path / 'db.sqlite'}"
    env = {"emulator_dream_seconds": "60"}  # the job stays in flight across the rotation
    for app in start(tmp_path, database, secret_key=old, **env):
        with app.client() as client:
            job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
            app.wait_for_status(client, job_id, {"queued", "dreaming"})
    for app in start(tmp_path, database, secret_key=new, secret_key_previous=old, **env):
        stored = app.services.repository.jobs.get(job_id)
        assert stored is not None and stored.luma_generation_id
        body = {**generation_body(app, stored.luma_generation_id), "state": "dreaming"}
        assert httpx.post(callback_url(app.url, old, job_id), json=body).status_code == 200
        assert httpx.post(callback_url(app.url, new, job_id), json=body).status_code == 200
        refused = httpx.post(callback_url(app.url, "a-guessed-key", job_id), json=body)
        assert refused.status_code == 401
        assert old not in refused.text and new not in refused.text
