"""The data directory holds secrets (signing keys, webhook secrets in the database, callback
tokens in the emulator's state): only its owner may read it."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of a database file (they hold its pages too).
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def create_private_dir(path: Path) -> None:
    """``path`` (and missing parents) created 0700; an existing one tightened to 0700."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # a directory we do not own: leave it as it is
        if path.stat().st_mode & 0o077:
            path.chmod(DIRECTORY_MODE)


def tighten(data_dir: Path, database_file: Path | None) -> None:
    """At start: the data directory 0700; the SQLite database, its companions and the
    emulator's state 0600, whatever mode earlier versions left them with."""
    create_private_dir(data_dir)
    files: list[Path] = []
    if database_file is not None:
        files += [database_file.with_name(database_file.name + suffix) for suffix in SQLITE_COMPANIONS]
    files += [data_dir / "emulator" / "generations.json"]
    files += [data_dir / name for name in ("secret_key", "jwt_secret", "emulator_api_key")]
    for path in files:
        with contextlib.suppress(FileNotFoundError, PermissionError):
            if path.stat().st_mode & 0o077:
                path.chmod(FILE_MODE)
    emulator_dir = data_dir / "emulator"
    if emulator_dir.is_dir():
        create_private_dir(emulator_dir)


def create_private_file(path: Path) -> None:
    """An empty file made 0600 before anyone writes to it (SQLite then keeps its mode for
    the -wal and -shm files)."""
    if not path.exists():
        path.parent.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def kept_secret(data_dir: Path, name: str) -> str:
    """The secret kept in ``data_dir/name``: random, made on first use, 0600."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    # O_EXCL: when two processes start at once, the first one's secret wins.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
