"""Object storage: where results and paid clips are kept, by key."""

from __future__ import annotations

import errno
from datetime import datetime
from pathlib import Path
from typing import Protocol


class ObjectNotFound(KeyError):
    """No object under this key."""


class StorageUnavailable(Exception):
    """The object store did not answer (refused, timed out, 500/503) for as long as we were
    willing to wait. Not a verdict on the object or the job: try again later. The API answers
    503 ``STORAGE_UNAVAILABLE`` with ``Retry-After``; the worker reschedules the job."""

    code = "STORAGE_UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float = 5.0) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


class StorageFull(OSError):
    """No space left where an object or a scratch file was being written (ENOSPC, EDQUOT).
    Nothing partial was left behind. Code ``STORAGE_FULL``: retried once space is back."""

    code = "STORAGE_FULL"

    def __init__(self, message: str, *, retry_after: float = 30.0) -> None:
        super().__init__(errno.ENOSPC, message)
        self.message = message
        self.retry_after = retry_after


FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def is_disk_full(error: BaseException) -> bool:
    """An OSError saying the disk (or the quota) is full."""
    return isinstance(error, OSError) and error.errno in FULL_ERRNOS


class ObjectStore(Protocol):
    @property
    def local(self) -> bool:
        """Whether objects are files in a local directory (a call is a file system call, not a
        network round trip)."""
        ...

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
