"""Issue 17, finding 7: 40 uploads of twelve magic bytes and zeros in 2 s, all kept forever.
Now uploads are probed as media, rated and capped per user, and expire when no job used
them. Real HTTP on loopback, SQLite and PostgreSQL."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from PIL import Image

from pixelmotion.providers.emulator import render_clip
from pixelmotion.store.rows import utcnow
from pixelmotion.worker.retention import expire_unused_uploads
from tests.running import Running, start

MP4_MAGIC = b"\x00\x00\x00\x18ftypmp42"  # twelve bytes that pass the magic-bytes sniff
PNG_MAGIC = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0d"
PER_HOUR = 3


def png(shade: int = 0) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (shade, 40, 90)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def site(tmp_path: Path, database_url: str) -> Iterator[Running]:
    yield from start(tmp_path, database_url, user_uploads_per_hour=str(PER_HOUR))


def kept_uploads(site: Running) -> list[Path]:
    return [p for p in (site.settings.data_dir / "objects" / "uploads").rglob("*") if p.is_file()]


def test_magic_bytes_and_zeros_are_refused_as_unreadable(site: Running, tmp_path: Path) -> None:
    clip = render_clip("a real clip", tmp_path / "real.mp4", width=64, height=48, fps=12, seconds=1)
    with site.client() as client:
        for fake in (MP4_MAGIC + bytes(4096), PNG_MAGIC + bytes(4096), MP4_MAGIC, PNG_MAGIC + bytes(64)):
            refused = client.post("/v1/uploads", content=fake)
            assert refused.status_code == 422, refused.text
            assert refused.json()["error"]["code"] == "UPLOAD_UNREADABLE"
        assert kept_uploads(site) == []
        # Real media still pass: a video PyAV opens, an image Pillow decodes.
        assert client.post("/v1/uploads", content=clip.read_bytes()).json()["kind"] == "video"
        assert client.post("/v1/uploads", content=png()).json()["kind"] == "image"


def test_uploads_past_the_hourly_rate_are_refused_even_at_once(site: Running) -> None:
    answers: list[int] = []
    start_line = threading.Barrier(12)

    def send() -> None:
        with site.client("mallory") as client:
            start_line.wait()
            answers.append(client.post("/v1/uploads", content=png(len(answers))).status_code)

    senders = [threading.Thread(target=send) for _ in range(12)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    assert sorted(answers) == [201] * PER_HOUR + [429] * (12 - PER_HOUR)
    with site.client("mallory") as mallory, site.client("bob") as bob:
        refused = mallory.post("/v1/uploads", content=png())
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "UPLOAD_RATE_LIMIT"
        assert 0 < int(refused.headers["Retry-After"]) <= 3600
        assert bob.post("/v1/uploads", content=png()).status_code == 201  # per user


def test_uploads_past_the_quota_are_refused(tmp_path: Path, database_url: str) -> None:
    image = png()
    for site in start(tmp_path, database_url, user_upload_bytes=str(2 * len(image) + 10)):
        with site.client() as client:
            assert [client.post("/v1/uploads", content=image).status_code for _ in range(2)] == [201, 201]
            refused = client.post("/v1/uploads", content=image)
            assert refused.status_code == 413 and refused.json()["error"]["code"] == "UPLOAD_QUOTA"
            assert len(kept_uploads(site)) == 2


def test_unused_uploads_expire_even_with_retention_off(site: Running) -> None:
    assert site.settings.retention_days == 0
    with site.client() as client:
        unused = client.post("/v1/uploads", content=png(1)).json()["uploadId"]
        used = client.post("/v1/uploads", content=png(2)).json()["uploadId"]
        job = {"prompt": "a sprite waves", "width": 32, "height": 32, "colorCount": 8, "fps": 12}
        assert client.post("/v1/jobs", json={**job, "keyframe": {"uploadId": used}}).status_code == 202

    assert expire_unused_uploads(site.services, utcnow() + timedelta(hours=23)) == 0
    assert expire_unused_uploads(site.services, utcnow() + timedelta(hours=25)) == 1
    assert [p.name for p in kept_uploads(site)] == [used]
    with site.client() as client:
        gone = client.post("/v1/jobs", json={**job, "keyframe": {"uploadId": unused}})
        assert gone.status_code == 422
        # The expired upload no longer counts against the quota or the rate's kept bytes.
        assert site.services.repository.uploads.usage("alice", utcnow()).kept_bytes == len(png(2))
