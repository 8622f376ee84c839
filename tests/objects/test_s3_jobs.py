"""A whole job with ``PIXELMOTION_STORAGE_URL=s3://…`` (moto on 127.0.0.1): results land in the
bucket, are served by a redirect to a presigned URL, and go away with retention."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from pixelmotion.objects.s3 import S3ObjectStore
from pixelmotion.store import utcnow
from pixelmotion.worker.retention import retention_pass
from tests.images import frame_count
from tests.running import Running, start
from tests.s3 import CREDENTIALS, REGION, new_bucket_store

REQUEST = {"prompt": "a red fox running", "width": 32, "height": 24, "colorCount": 8, "fps": 12}


@pytest.fixture
def bucket(s3_endpoint: str) -> S3ObjectStore:
    return new_bucket_store(s3_endpoint, prefix="")


@pytest.fixture
def s3_app(tmp_path: Path, database_url: str, s3_endpoint: str, bucket: S3ObjectStore) -> Iterator[Running]:
    yield from start(
        tmp_path,
        database_url,
        storage_url=f"s3://{bucket.bucket}/results",
        s3_endpoint_url=s3_endpoint,
        s3_region=REGION,
        s3_access_key_id=CREDENTIALS["access_key_id"],
        s3_secret_access_key=CREDENTIALS["secret_access_key"],
        retention_days="7",
    )


def test_results_are_stored_in_the_bucket_and_served_by_presigned_redirect(
    s3_app: Running, bucket: S3ObjectStore, s3_endpoint: str
) -> None:
    with s3_app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        job = s3_app.wait_for_status(client, job_id, {"completed", "failed"})
        assert job["status"] == "completed", job

        # Everything the job wrote is in the bucket, under the URL's prefix.
        for name in ("source.mp4", "animation.gif", "sheet.png", "sheet.json"):
            assert bucket.exists(f"results/jobs/{job_id}/{name}"), name

        redirect = client.get(f"/v1/jobs/{job_id}/animation.gif")
        assert redirect.status_code == 307
        location = redirect.headers["location"]
        assert location.startswith(f"{s3_endpoint}/{bucket.bucket}/results/jobs/{job_id}/animation.gif?")
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=900" in location
        assert redirect.headers["cache-control"] == "no-store"

        gif = client.get(f"/v1/jobs/{job_id}/animation.gif", follow_redirects=True)
        assert gif.status_code == 200 and str(gif.url).startswith(s3_endpoint)
        assert gif.headers["content-type"] == "image/gif"
        image = Image.open(io.BytesIO(gif.content))
        assert image.size == (32, 24) and frame_count(image) == job["totalFrames"]
        # The bearer token stays with us: httpx drops it when a redirect changes origin.
        assert "authorization" not in gif.request.headers

        sheet = client.get(f"/v1/jobs/{job_id}/sheet.png", follow_redirects=True)
        assert sheet.headers["content-type"] == "image/png" and sheet.content.startswith(b"\x89PNG")
        layout = client.get(f"/v1/jobs/{job_id}/sheet.json", follow_redirects=True)
        assert layout.headers["content-type"] == "application/json" and json.loads(layout.content)

        # frames still come through the API (gzip negotiation, two formats).
        frames = client.get(f"/v1/jobs/{job_id}/frames")
        assert frames.status_code == 200 and frames.headers["content-encoding"] == "gzip"
        assert len(frames.json()["frames"]) == job["totalFrames"]

        # Another user's job id is as unknown as ever: no redirect, no URL.
        with s3_app.client("mallory") as other:
            assert other.get(f"/v1/jobs/{job_id}/animation.gif").status_code == 404


def test_retention_empties_the_bucket_of_old_jobs(s3_app: Running, bucket: S3ObjectStore) -> None:
    services = s3_app.services
    with s3_app.client() as client:
        job_id = client.post("/v1/jobs", json=REQUEST).json()["jobId"]
        assert s3_app.wait_for_status(client, job_id, {"completed", "failed"})["status"] == "completed"
        services.store.put_bytes("uploads/someone/u1", b"video", "video/mp4")

        assert retention_pass(services).jobs == 0  # finished just now: kept
        assert bucket.exists(f"results/jobs/{job_id}/animation.gif")

        report = retention_pass(services, now=utcnow() + timedelta(days=8))
        assert report.jobs == 1 and report.objects >= 5 and report.events >= 5 and report.uploads == 1
        assert not any(bucket._list(f"results/jobs/{job_id}/"))
        assert not bucket.exists("results/uploads/someone/u1")
        assert services.repository.events.after(job_id=job_id) == []

        # The job is still there and says how it ended; its files answer 404, not a redirect.
        assert client.get(f"/v1/jobs/{job_id}").json()["status"] == "completed"
        gone = client.get(f"/v1/jobs/{job_id}/animation.gif")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "OUTPUT_NOT_FOUND"

        again = retention_pass(services, now=utcnow() + timedelta(days=8))
        assert (again.jobs, again.objects, again.events) == (0, 0, 0)


def test_presigned_urls_can_name_the_public_endpoint(tmp_path: Path, s3_endpoint: str) -> None:
    bucket = new_bucket_store(s3_endpoint, prefix="")
    running = start(
        tmp_path,
        f"sqlite:///{tmp_path / 'pm.db'}",
        storage_url=f"s3://{bucket.bucket}",
        s3_endpoint_url=s3_endpoint,
        s3_public_url="https://files.example.test",
        s3_region=REGION,
        s3_access_key_id=CREDENTIALS["access_key_id"],
        s3_secret_access_key=CREDENTIALS["secret_access_key"],
    )
    app = next(running)
    try:
        store = app.services.store
        assert urlsplit(store.presigned_url("jobs/x/sheet.png", 60) or "").netloc == "files.example.test"
        store.put_bytes("jobs/x/sheet.png", b"\x89PNG", "image/png")  # uploads still go to the endpoint
        assert bucket.get_bytes("jobs/x/sheet.png") == b"\x89PNG"
        assert httpx.get(f"{app.url}/healthz").status_code == 200
    finally:
        running.close()
