"""Object storage in a local directory (the embedded default).

Every write goes to a temporary file in the object's own directory, is flushed to the disk
(fsync), then renamed over the key, and the directory is synced: a reader sees the whole
old object or the whole new one, never part of one, even after a crash. A full disk
(ENOSPC, EDQUOT) removes the temporary file and raises ``StorageFull``.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from pixelmotion.objects.base import ObjectNotFound, StorageFull, is_disk_full, validate_key

COPY_CHUNK = 1024 * 1024
TEMP_PREFIX = ".tmp-"


class LocalObjectStore:
    local = True

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        def copy(handle: BinaryIO) -> None:
            with open(path, "rb") as source:
                shutil.copyfileobj(source, handle, COPY_CHUNK)

        self._write(key, copy)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        self._write(key, lambda handle: handle.write(data))

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> None:
        """Temporary file, fsync, rename, fsync the directory; nothing left on failure."""
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
        except OSError as error:
            raise _full(error, key) from error
        try:
            with self._open_temp(fd) as handle:
                fill(handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException as error:
            _unlink(Path(tmp))
            if isinstance(error, OSError):
                raise _full(error, key) from error
            raise
        _fsync_directory(target.parent)

    def _open_temp(self, fd: int) -> BinaryIO:
        """The handle a write goes through (a seam for the full-disk test, which points the
        descriptor at /dev/full so the real write fails with ENOSPC)."""
        return os.fdopen(fd, "wb")

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectNotFound(key) from None

    def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete_prefix(self, prefix: str) -> int:
        """Safe to run from several processes at once: each file counts for whoever
        removed it, and what is already gone is skipped."""
        target = self._path(prefix.rstrip("/"))
        if not target.is_dir():
            return int(_unlink(target))
        count = 0
        for folder, _dirs, files in os.walk(target, topdown=False):
            count += sum(_unlink(Path(folder, name)) for name in files)
            _rmdir(folder)
        return count

    def delete_older_than(self, prefix: str, cutoff: datetime) -> int:
        target = self._path(prefix.rstrip("/"))
        if not target.is_dir():
            return 0
        limit = cutoff.timestamp()
        count = 0
        for path in target.rglob("*"):
            try:
                if path.is_file() and path.stat().st_mtime < limit:
                    path.unlink()
                    count += 1
            except FileNotFoundError:  # deleted meanwhile (another worker's pass)
                continue
        return count

    def presigned_url(self, key: str, expires_seconds: int) -> str | None:
        return None


def _full(error: OSError, key: str) -> OSError:
    """``StorageFull`` for a full disk, the error itself otherwise."""
    if is_disk_full(error):
        return StorageFull(f"No space left on the storage disk to write {key}.")
    return error


def _fsync_directory(folder: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: Path) -> bool:
    """Remove a file; False if it was not there (or is no file)."""
    try:
        path.unlink()
    except (FileNotFoundError, IsADirectoryError):
        return False
    return True


def _rmdir(folder: str) -> None:
    """Remove an emptied folder; one already gone, or filled again meanwhile, is left be."""
    try:
        os.rmdir(folder)
    except FileNotFoundError:
        pass
    except OSError as error:
        if error.errno != errno.ENOTEMPTY:
            raise
