"""The whole job flow over real HTTP: create, walk every state, read the results."""

from __future__ import annotations

import io

import httpx
import numpy as np
from PIL import Image

from tests.api.conftest import Running
from tests.images import frame_count

REQUEST = {
    "prompt": "a red fox running",
    "width": 48,
    "height": 32,
    "colorCount": 12,
    "fps": 12,
    "resolution": "540p",
}


def test_a_job_walks_every_state_and_yields_its_frames(app: Running) -> None:
    with app.client() as client:
        created = client.post("/v1/jobs", json=REQUEST)
        assert created.status_code == 202, created.text
        body = created.json()
        assert body["status"] == "pending" and body["estimatedTimeSeconds"] == 90
        job_id = body["jobId"]

        job = app.wait_for_status(client, job_id, {"completed", "failed"})
        assert job["status"] == "completed", job
        assert job["progress"] == 100 and job["error"] is None and job["completedAt"]

        events = app.services.repository.events.after(job_id=job_id)
        statuses = [e.status.value for e in events]
        order = ["pending", "queued", "dreaming", "processing", "completed"]
        assert [s for s in dict.fromkeys(statuses)] == order
        assert [e.progress for e in events] == sorted(e.progress for e in events)

        frames = client.get(f"/v1/jobs/{job_id}/frames")
        assert frames.status_code == 200
        assert frames.headers.get("content-encoding") == "gzip"
        data = frames.json()
        expected = 12 * 5
        assert abs(len(data["frames"]) - expected) <= 1
        assert job["totalFrames"] == len(data["frames"])
        colours: set[tuple[int, ...]] = set()
        for frame in data["frames"]:
            pixels = np.array(frame["imageData"], dtype=np.uint8).reshape(-1, 4)
            assert len(pixels) == 48 * 32
            colours.update(map(tuple, np.unique(pixels, axis=0).tolist()))
            assert frame["delayMs"] > 0
        assert len(colours) <= 12

        gif = client.get(f"/v1/jobs/{job_id}/animation.gif")
        assert gif.headers["content-type"] == "image/gif"
        image = Image.open(io.BytesIO(gif.content))
        assert image.size == (48, 32)
        assert frame_count(image) == len(data["frames"])

        sheet = client.get(f"/v1/jobs/{job_id}/sheet.png")
        sheet_image = Image.open(io.BytesIO(sheet.content))
        layout = client.get(f"/v1/jobs/{job_id}/sheet.json").json()
        rects = layout["frames"].values() if isinstance(layout["frames"], dict) else layout["frames"]
        rects = list(rects)
        assert len(rects) == len(data["frames"])
        for rect in rects:
            r = rect["frame"]
            assert r["w"] == 48 and r["h"] == 32
            assert r["x"] + r["w"] <= sheet_image.width and r["y"] + r["h"] <= sheet_image.height

        stored = app.services.repository.jobs.get(job_id)
        assert stored is not None
        assert stored.luma_generation_id and stored.luma_video_url
        assert stored.processing_time_ms and stored.frame_processing_time_ms is not None
        assert stored.luma_processing_time_ms is not None
        assert stored.frame_data and "imageData" not in str(stored.frame_data)


def test_the_plans_route_answers_in_the_plans_shape(app: Running) -> None:
    with app.client() as client:
        response = client.post("/functions/v1/video-generate", json=REQUEST)
        assert response.status_code == 202
        body = response.json()
        assert body["success"] is True and body["data"]["status"] == "pending"
        job = app.wait_for_status(client, body["data"]["jobId"], {"completed", "failed"})
        assert job["status"] == "completed"


def test_frames_without_gzip_are_plain_json(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        sqlite_app.wait_for_status(client, job_id, {"completed"})
        plain = httpx.get(
            f"{sqlite_app.url}/v1/jobs/{job_id}/frames",
            headers={"Authorization": f"Bearer {sqlite_app.token('alice')}", "Accept-Encoding": "identity"},
        )
        assert "content-encoding" not in plain.headers
        assert plain.json()["palette"][0].startswith("#")


def test_another_users_job_is_not_found(sqlite_app: Running) -> None:
    with sqlite_app.client("alice") as alice, sqlite_app.client("bob") as bob:
        job_id = alice.post("/v1/jobs", json=REQUEST).json()["jobId"]
        for path in ("", "/frames", "/sheet.png", "/animation.gif"):
            response = bob.get(f"/v1/jobs/{job_id}{path}")
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "JOB_NOT_FOUND"
        assert bob.post(f"/v1/jobs/{job_id}/cancel").status_code == 404
        assert [j["jobId"] for j in alice.get("/v1/jobs").json()["jobs"]] == [job_id]
        assert bob.get("/v1/jobs").json()["jobs"] == []


def test_list_is_newest_first_and_pages(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        ids = [client.post("/v1/jobs", json={**REQUEST, "projectId": "p1"}).json()["jobId"] for _ in range(3)]
        page = client.get("/v1/jobs", params={"limit": 2}).json()
        assert [j["jobId"] for j in page["jobs"]] == ids[::-1][:2]
        rest = client.get("/v1/jobs", params={"limit": 2, "cursor": page["nextCursor"]}).json()
        assert [j["jobId"] for j in rest["jobs"]] == [ids[0]]
        assert len(client.get("/v1/jobs", params={"projectId": "other"}).json()["jobs"]) == 0


def test_cancel_stops_a_job_and_a_finished_job_cannot_be_canceled(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        canceled = client.post(f"/v1/jobs/{job_id}/cancel")
        assert canceled.status_code == 200
        assert canceled.json()["status"] == "canceled"
        assert canceled.json()["error"]["code"] == "CANCELED"
        again = client.post(f"/v1/jobs/{job_id}/cancel")
        assert again.status_code == 409
        assert client.get(f"/v1/jobs/{job_id}/frames").status_code == 409


def emulator_created(app: Running) -> int:
    stats = httpx.get(
        f"{app.settings.emulator_base_url}/_stats",
        headers={"Authorization": f"Bearer {app.settings.emulator_api_key}"},
    ).json()
    return int(stats["created"])


def test_a_failed_job_is_retried_from_the_paid_clip_without_a_new_generation(sqlite_app: Running) -> None:
    from datetime import timedelta

    from pixelmotion.jobs.moves import Move
    from pixelmotion.jobs.states import JobStatus
    from pixelmotion.store import utcnow

    app = sqlite_app
    with app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        app.wait_for_status(client, job_id, {"completed"})
        assert client.post(f"/v1/jobs/{job_id}/retry").json()["error"]["code"] == "JOB_NOT_FAILED"
        # Stage a processing failure after the clip was stored (say the encoder crashed):
        # the state machine has no completed -> failed move, so the test writes it directly.
        # The job is also made an hour old, past its deadline: a retry is a new attempt, with
        # a deadline of its own.
        an_hour_ago = utcnow() - timedelta(hours=1)
        crash = Move(
            JobStatus.FAILED,
            frozenset({JobStatus.COMPLETED}),
            {"error_code": "PROCESSING_FAILED", "created_at": an_hour_ago},
        )
        assert app.services.repository.jobs.apply(job_id, crash) is not None
        retried = client.post(f"/v1/jobs/{job_id}/retry")
        assert retried.status_code == 200, retried.text
        assert retried.json()["status"] == "processing" and retried.json()["error"] is None
        done = app.wait_for_status(client, job_id, {"completed", "failed"})
        assert done["status"] == "completed"
        assert emulator_created(app) == 1


def test_retry_needs_a_failed_job_with_a_paid_clip(sqlite_app: Running) -> None:
    app = sqlite_app
    with app.client() as client:
        failing = {**REQUEST, "prompt": "a slow turtle [[fault:fail_generation=Contains blacklisted words]]"}
        job_id = client.post("/v1/jobs", json=failing).json()["jobId"]
        failed = app.wait_for_status(client, job_id, {"failed", "completed"})
        assert failed["status"] == "failed"
        assert (
            failed["error"]["code"] == "LUMA_GENERATION_FAILED"
            and "blacklisted" in failed["error"]["message"]
        )
        response = client.post(f"/v1/jobs/{job_id}/retry")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "NO_PAID_CLIP"
