"""Object storage: a local directory by default (S3-compatible storage comes later)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pixelmotion.objects.base import ObjectNotFound, ObjectStore
from pixelmotion.objects.local import LocalObjectStore


def open_store(url: str) -> ObjectStore:
    """``file:///PATH`` → a local directory."""
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalObjectStore(Path(parsed.path))
    raise ValueError("PIXELMOTION_STORAGE_URL must be a file:/// URL")


__all__ = ["LocalObjectStore", "ObjectNotFound", "ObjectStore", "open_store"]
