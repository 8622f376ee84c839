"""Object storage in a local directory (the embedded default)."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from pixelmotion.objects.base import ObjectNotFound, validate_key


class LocalObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy then rename, so a reader never sees half an object.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        shutil.copyfile(path, tmp)
        os.replace(tmp, target)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)

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
