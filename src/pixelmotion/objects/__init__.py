"""Object storage: a local directory by default, or an S3-compatible bucket for scale."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pixelmotion.objects.base import (
    ObjectNotFound,
    ObjectStore,
    StorageFull,
    StorageUnavailable,
    is_disk_full,
)
from pixelmotion.objects.local import LocalObjectStore
from pixelmotion.objects.retry import PatientStore, RetryPolicy


def open_store(
    url: str,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    public_url: str | None = None,
) -> ObjectStore:
    """``file:///PATH`` → a local directory; ``s3://bucket[/prefix]`` → an S3-compatible
    bucket (the keyword arguments apply to S3 only; None: boto3's usual sources)."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(parsed.path))
    if parsed.scheme == "s3":
        from pixelmotion.objects.s3 import S3ObjectStore, parse_s3_url  # boto3 loads only when used

        bucket, prefix = parse_s3_url(url)
        return S3ObjectStore(
            bucket,
            prefix,
            endpoint_url=endpoint_url,
            region=region,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            public_url=public_url,
        )
    raise ValueError("PIXELMOTION_STORAGE_URL must be a file:/// or s3://bucket/prefix URL")


__all__ = [
    "LocalObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "PatientStore",
    "RetryPolicy",
    "StorageFull",
    "StorageUnavailable",
    "is_disk_full",
    "open_store",
]
