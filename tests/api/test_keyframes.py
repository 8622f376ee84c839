"""Animating the user's sprite: an uploaded image becomes the clip's first frame (keyframes.frame0),
fetched by the provider through a signed, expiring link of ours."""

from __future__ import annotations

import io
import time
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image

from pixelmotion.security import keyframe_url
from tests.running import Running


def sprite_png() -> bytes:
    image = Image.new("RGB", (32, 32), (20, 20, 60))
    for x in range(8, 24):
        for y in range(8, 24):
            image.putpixel((x, y), (250, 200, 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_sprite_upload_is_sent_as_the_first_keyframe(sqlite_app: Running) -> None:
    app = sqlite_app
    with app.client() as client:
        uploaded = client.post(
            "/v1/uploads", content=sprite_png(), headers={"Content-Type": "image/png"}
        ).json()
        assert uploaded["kind"] == "image"
        body = {
            "prompt": "the sprite jumps",
            "width": 32,
            "height": 32,
            "colorCount": 8,
            "fps": 12,
            "resolution": "540p",
            "keyframe": {"uploadId": uploaded["uploadId"]},
        }
        job = client.post("/v1/jobs", json=body).json()
        done = app.wait_for_status(client, job["jobId"], {"completed", "failed"})
        assert done["status"] == "completed", done
        stored = app.services.repository.jobs.get(job["jobId"])
        assert stored is not None and stored.luma_generation_id
        generation = httpx.get(
            f"{app.settings.emulator_base_url}/generations/{stored.luma_generation_id}",
            headers={"Authorization": f"Bearer {app.settings.emulator_api_key}"},
        ).json()
        frame0 = generation["request"]["keyframes"]["frame0"]
        assert frame0["type"] == "image" and f"/v1/keyframes/{uploaded['uploadId']}" in frame0["url"]
        # The link works without a bearer token, and the callback log never keeps its signature.
        assert httpx.get(frame0["url"]).headers["content-type"] == "image/png"
        assert all(
            "sig=REDACTED" in str(c.body) for c in app.services.repository.callbacks.for_job(job["jobId"])
        )


def test_keyframe_links_are_signed_and_expire(sqlite_app: Running) -> None:
    app = sqlite_app
    with app.client() as client:
        upload_id = client.post("/v1/uploads", content=sprite_png()).json()["uploadId"]
        url = client.post(
            "/v1/jobs",
            json={
                "prompt": "x jumps",
                "width": 16,
                "height": 16,
                "colorCount": 4,
                "fps": 12,
                "keyframe": {"uploadId": upload_id},
            },
        )
        assert url.status_code == 202
    owner = app.services.repository.jobs.get(url.json()["jobId"]).keyframe_object_key.split("/")[1]  # type: ignore[union-attr]
    good = keyframe_url(app.url, app.settings.secret_key, owner, upload_id, int(time.time()) + 60)
    assert httpx.get(good).status_code == 200
    expired = keyframe_url(app.url, app.settings.secret_key, owner, upload_id, int(time.time()) - 1)
    assert httpx.get(expired).status_code == 403
    query = parse_qs(urlsplit(good).query)
    forged = good.replace(query["sig"][0], "0" * 64)
    assert httpx.get(forged).status_code == 403


def test_a_keyframe_must_be_the_callers_image(sqlite_app: Running) -> None:
    app = sqlite_app
    with app.client("alice") as alice, app.client("bob") as bob:
        upload_id = alice.post("/v1/uploads", content=sprite_png()).json()["uploadId"]
        body = {
            "prompt": "x jumps",
            "width": 16,
            "height": 16,
            "colorCount": 4,
            "fps": 12,
            "keyframe": {"uploadId": upload_id},
        }
        refused = bob.post("/v1/jobs", json=body)
        assert refused.status_code == 422 and "keyframe.uploadId" in refused.json()["error"]["fields"]
