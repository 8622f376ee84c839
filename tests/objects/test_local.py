"""The local-directory store (the embedded default)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pixelmotion.objects import LocalObjectStore, ObjectStore, open_store
from tests.objects.contract import StoreContract


class TestLocalStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalObjectStore:
        return LocalObjectStore(tmp_path / "objects")

    def age(self, store: ObjectStore, key: str, seconds: float) -> None:
        assert isinstance(store, LocalObjectStore)
        then = time.time() - seconds
        os.utime(store.root / key, (then, then))

    def test_serves_files_from_disk_and_has_no_presigned_urls(self, store: LocalObjectStore) -> None:
        store.put_bytes("jobs/a/animation.gif", b"GIF89a", "image/gif")
        path = store.local_path("jobs/a/animation.gif")
        assert path == store.root / "jobs/a/animation.gif" and path.read_bytes() == b"GIF89a"
        assert store.local_path("jobs/a/none.gif") is None
        assert store.presigned_url("jobs/a/animation.gif", 60) is None

    def test_writes_are_atomic_renames(self, store: LocalObjectStore) -> None:
        store.put_bytes("jobs/a/sheet.png", b"png", "image/png")
        assert sorted(p.name for p in (store.root / "jobs/a").iterdir()) == ["sheet.png"]


def test_open_store_picks_the_backend(tmp_path: Path) -> None:
    assert isinstance(open_store(f"file://{tmp_path}/objects"), LocalObjectStore)
    with pytest.raises(ValueError):
        open_store("ftp://example/objects")
