"""The S3-compatible store against moto's server on 127.0.0.1 (real HTTP, real signatures)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pixelmotion.config import SettingsError, load_settings
from pixelmotion.objects import ObjectStore, open_store
from pixelmotion.objects.s3 import S3ObjectStore, parse_s3_url
from tests.objects.contract import StoreContract, next_whole_second
from tests.s3 import CREDENTIALS, REGION, new_bucket_store


class TestS3Store(StoreContract):
    @pytest.fixture
    def store(self, s3_endpoint: str) -> S3ObjectStore:
        return new_bucket_store(s3_endpoint)

    def age(self, store: ObjectStore, key: str, seconds: float) -> None:
        pass  # S3 sets LastModified itself; the override below waits instead

    def test_delete_older_than_keeps_the_recent(self, store: ObjectStore) -> None:
        store.put_bytes("uploads/u1/old", b"old", "video/mp4")
        store.put_bytes("jobs/j/old", b"old", "image/png")
        cutoff = next_whole_second()
        store.put_bytes("uploads/u2/new", b"new", "video/mp4")
        assert store.delete_older_than("uploads", cutoff) == 1
        assert not store.exists("uploads/u1/old")
        assert store.exists("uploads/u2/new") and store.exists("jobs/j/old")
        assert store.delete_older_than("uploads", cutoff) == 0

    def test_objects_live_under_the_prefix(self, store: S3ObjectStore, s3_endpoint: str) -> None:
        store.put_bytes("jobs/a/sheet.png", b"png", "image/png")
        other = S3ObjectStore(store.bucket, "", endpoint_url=s3_endpoint, region=REGION, **CREDENTIALS)
        assert other.get_bytes("pm/jobs/a/sheet.png") == b"png"
        assert not other.exists("jobs/a/sheet.png")
        assert store.local_path("jobs/a/sheet.png") is None

    def test_presigned_urls_serve_the_object_with_its_type(
        self, store: S3ObjectStore, s3_endpoint: str
    ) -> None:
        store.put_bytes("jobs/a/animation.gif", b"GIF89a-data", "image/gif")
        url = store.presigned_url("jobs/a/animation.gif", 300)
        assert url is not None and url.startswith(f"{s3_endpoint}/{store.bucket}/pm/jobs/a/animation.gif?")
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
        answer = httpx.get(url)
        assert answer.status_code == 200, answer.text
        assert answer.content == b"GIF89a-data"
        assert answer.headers["content-type"] == "image/gif"
        # (moto does not check signatures, so a tampered URL proves nothing here.)

    def test_presigned_urls_may_name_a_public_endpoint(self, s3_endpoint: str) -> None:
        store = new_bucket_store(s3_endpoint, public_url="https://files.example.test")
        url = store.presigned_url("jobs/a/sheet.png", 60)
        assert url is not None and url.startswith(f"https://files.example.test/{store.bucket}/pm/jobs/a/")

    def test_large_files_go_up_in_parts(self, store: S3ObjectStore, tmp_path: Path) -> None:
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(os.urandom(9 * 1024 * 1024))  # above boto3's 8 MiB multipart threshold
        store.put_file("jobs/a/source.mp4", clip, "video/mp4")
        assert store.get_bytes("jobs/a/source.mp4") == clip.read_bytes()

    def test_delete_prefix_handles_more_than_one_batch(
        self, store: S3ObjectStore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr("pixelmotion.objects.s3.DELETE_BATCH", 3)  # 1000 on a real server
        for i in range(7):
            store.put_bytes(f"jobs/big/f{i}", b"", "application/octet-stream")
        assert store.delete_prefix("jobs/big") == 7
        assert store.delete_prefix("jobs/big") == 0

    def test_an_unreachable_server_raises(self) -> None:
        store = S3ObjectStore("b", endpoint_url="http://127.0.0.1:9", region=REGION, **CREDENTIALS)
        with pytest.raises(Exception, match=r"(?i)connect"):
            store.exists("jobs/a/sheet.png")


def test_s3_urls() -> None:
    assert parse_s3_url("s3://bucket") == ("bucket", "")
    assert parse_s3_url("s3://bucket/some/prefix/") == ("bucket", "some/prefix")
    for bad in ("s3:///prefix", "http://bucket/x", "s3://bucket/../x"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)


def test_open_store_builds_an_s3_store_from_settings(s3_endpoint: str) -> None:
    settings = load_settings(
        {
            "PIXELMOTION_DATA_DIR": "/tmp/pixelmotion-unused",
            "PIXELMOTION_SECRET_KEY": "k" * 32,
            "PIXELMOTION_JWT_SECRET": "j" * 32,
            "PIXELMOTION_STORAGE_URL": "s3://results/prod",
            "PIXELMOTION_S3_ENDPOINT_URL": s3_endpoint + "/",
            "PIXELMOTION_S3_REGION": "eu-west-3",
            "PIXELMOTION_S3_ACCESS_KEY_ID": "id",
            "PIXELMOTION_S3_SECRET_ACCESS_KEY": "s3-secret-value",
            "PIXELMOTION_RETENTION_DAYS": "30",
        }
    )
    assert settings.s3_endpoint_url == s3_endpoint and settings.retention_days == 30
    assert "s3-secret-value" not in repr(settings)
    from pixelmotion.bootstrap import make_store

    store = make_store(settings)
    assert isinstance(store, S3ObjectStore)
    assert (store.bucket, store.prefix) == ("results", "prod")
    url = store.presigned_url("jobs/a/sheet.png", 60)
    assert url is not None and urlsplit(url).netloc == urlsplit(s3_endpoint).netloc
    assert "eu-west-3" in url and "id%2F" in url  # region and key id in the credential scope
    assert isinstance(open_store("s3://results"), S3ObjectStore)


@pytest.mark.parametrize(
    ("name", "value"),
    [("STORAGE_URL", "ftp://x/y"), ("STORAGE_URL", "s3:///prefix"), ("RETENTION_DAYS", "-1")],
)
def test_bad_storage_settings_are_refused(name: str, value: str) -> None:
    env = {
        "PIXELMOTION_SECRET_KEY": "k" * 32,
        "PIXELMOTION_JWT_SECRET": "j" * 32,
        f"PIXELMOTION_{name}": value,
    }
    with pytest.raises(SettingsError):
        load_settings(env)


def test_next_whole_second_is_ahead() -> None:
    before = datetime.now(UTC)
    after = next_whole_second()
    assert after > before and after.microsecond == 0 and datetime.now(UTC) > after
