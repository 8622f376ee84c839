"""Object storage: where results and paid clips are kept, by key."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Protocol


class ObjectNotFound(KeyError):
    """No object under this key."""


class ObjectStore(Protocol):
    def put_file(self, key: str, path: Path, content_type: str) -> None: ...

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None: ...

    def get_bytes(self, key: str) -> bytes: ...

    def local_path(self, key: str) -> Path | None:
        """A file path to serve the object from, when the store is a local directory."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete the object ``prefix`` and everything below ``prefix/``; the count deleted."""
        ...

    def delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        """Delete the objects below ``prefix/`` last written before ``cutoff`` (retention)."""
        ...

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        """A URL a client may GET the object from directly until it expires; None when the
        store has no such thing (a local directory: the API serves the file itself)."""
        ...


def validate_key(key: str) -> str:
    """Keys are relative, slash-separated and never climb out of the store."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"invalid object key: {key!r}")
    return key
