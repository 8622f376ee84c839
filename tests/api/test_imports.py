"""Importing a user's own video (upload or URL): no model, straight to processing."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixelmotion.providers.emulator import render_clip
from tests.running import Running

CANVAS = {"width": 24, "height": 24, "colorCount": 6, "fps": 12}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "mine.mp4"
    return render_clip("my own holiday video", path, width=320, height=240, fps=24, seconds=2)


def test_an_uploaded_video_is_pixelated_without_the_model(sqlite_app: Running, clip: Path) -> None:
    with sqlite_app.client() as client:
        uploaded = client.post(
            "/v1/uploads", content=clip.read_bytes(), headers={"Content-Type": "video/mp4"}
        )
        assert uploaded.status_code == 201, uploaded.text
        upload_id = uploaded.json()["uploadId"]
        created = client.post(
            "/v1/jobs", json={**CANVAS, "source": {"type": "upload", "uploadId": upload_id}}
        )
        assert created.status_code == 202, created.text
        assert created.json()["status"] == "processing"
        job = sqlite_app.wait_for_status(client, created.json()["jobId"], {"completed", "failed"})
        assert job["status"] == "completed", job
        assert abs(job["totalFrames"] - 24) <= 1  # 2 s at 12 fps
        stored = sqlite_app.services.repository.jobs.get(job["jobId"])
        assert stored is not None and stored.provider == "import" and stored.luma_generation_id is None


def test_an_upload_belongs_to_its_user(sqlite_app: Running, clip: Path) -> None:
    with sqlite_app.client("alice") as alice, sqlite_app.client("bob") as bob:
        upload_id = alice.post("/v1/uploads", content=clip.read_bytes()).json()["uploadId"]
        refused = bob.post("/v1/jobs", json={**CANVAS, "source": {"type": "upload", "uploadId": upload_id}})
        assert refused.status_code == 422
        assert "source.uploadId" in refused.json()["error"]["fields"]


def test_an_upload_that_is_not_a_video_is_refused(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        response = client.post("/v1/uploads", content=b"<html>definitely not a video</html>")
        assert response.status_code == 415
        assert response.json()["error"]["code"] == "UNSUPPORTED_UPLOAD"


def test_a_video_url_is_fetched_through_the_ssrf_guard(sqlite_app: Running, clip: Path) -> None:
    with sqlite_app.client() as client:
        upload_id = client.post("/v1/uploads", content=clip.read_bytes()).json()["uploadId"]
        first = client.post("/v1/jobs", json={**CANVAS, "source": {"type": "upload", "uploadId": upload_id}})
        sqlite_app.wait_for_status(client, first.json()["jobId"], {"completed"})
        # The embedded emulator's address is the one loopback host downloads may use: an
        # emulator asset imports fine, the database port on the same machine does not.
        generation = client.post(
            "/v1/jobs", json={**CANVAS, "prompt": "a windmill turning", "resolution": "540p"}
        )
        done = sqlite_app.wait_for_status(client, generation.json()["jobId"], {"completed"})
        stored = sqlite_app.services.repository.jobs.get(done["jobId"])
        assert stored is not None and stored.luma_video_url
        imported = client.post(
            "/v1/jobs", json={**CANVAS, "source": {"type": "url", "url": stored.luma_video_url}}
        )
        assert (
            sqlite_app.wait_for_status(client, imported.json()["jobId"], {"completed", "failed"})["status"]
            == "completed"
        )
        internal = client.post(
            "/v1/jobs", json={**CANVAS, "source": {"type": "url", "url": "http://127.0.0.1:5432/video.mp4"}}
        )
        failed = sqlite_app.wait_for_status(client, internal.json()["jobId"], {"completed", "failed"})
        assert failed["status"] == "failed" and failed["error"]["code"] == "URL_NOT_ALLOWED"


def test_a_source_must_be_a_known_kind(sqlite_app: Running) -> None:
    with sqlite_app.client() as client:
        for source in (
            {"type": "ftp", "url": "ftp://x/y"},
            {"type": "url", "url": "file:///etc/passwd"},
            {"type": "upload"},
        ):
            response = client.post("/v1/jobs", json={**CANVAS, "source": source})
            assert response.status_code == 422, source
