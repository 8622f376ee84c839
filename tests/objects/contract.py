"""What every object store must do; test_local.py and test_s3.py run it on each store."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pixelmotion.objects import ObjectNotFound, ObjectStore


class StoreContract:
    """Subclasses provide a ``store`` fixture and ``age(store, key, seconds)``."""

    def age(self, store: ObjectStore, key: str, seconds: float) -> None:
        """Make the object look written ``seconds`` ago; stores that cannot, wait."""
        raise NotImplementedError

    def test_bytes_round_trip_and_overwrite(self, store: ObjectStore) -> None:
        store.put_bytes("jobs/a/sheet.json", b'{"v": 1}', "application/json")
        assert store.get_bytes("jobs/a/sheet.json") == b'{"v": 1}'
        store.put_bytes("jobs/a/sheet.json", b'{"v": 2}', "application/json")
        assert store.get_bytes("jobs/a/sheet.json") == b'{"v": 2}'

    def test_files_round_trip(self, store: ObjectStore, tmp_path: Path) -> None:
        source = tmp_path / "clip.mp4"
        source.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40)
        store.put_file("jobs/a/source.mp4", source, "video/mp4")
        assert store.get_bytes("jobs/a/source.mp4") == source.read_bytes()

    def test_missing_objects(self, store: ObjectStore) -> None:
        with pytest.raises(ObjectNotFound):
            store.get_bytes("jobs/none/sheet.png")
        assert not store.exists("jobs/none/sheet.png")
        store.put_bytes("jobs/some/sheet.png", b"png", "image/png")
        assert store.exists("jobs/some/sheet.png")
        assert not store.exists("jobs/some")  # a "directory" is not an object

    @pytest.mark.parametrize("key", ["", "/etc/passwd", "../up", "jobs/../../up", "a//b", "a/./b", "a/"])
    def test_keys_never_climb_out(self, store: ObjectStore, key: str) -> None:
        with pytest.raises(ValueError):
            store.put_bytes(key, b"x", "text/plain")
        with pytest.raises(ValueError):
            store.get_bytes(key)

    def test_delete_prefix_takes_the_subtree_and_nothing_beside_it(self, store: ObjectStore) -> None:
        for key in ("jobs/ab/sheet.png", "jobs/ab/frames/0.json", "jobs/abc/sheet.png", "uploads/x/1"):
            store.put_bytes(key, b"x", "application/octet-stream")
        assert store.delete_prefix("jobs/ab") == 2
        assert not store.exists("jobs/ab/sheet.png") and not store.exists("jobs/ab/frames/0.json")
        assert store.exists("jobs/abc/sheet.png")  # a sibling sharing the first letters stays
        assert store.exists("uploads/x/1")
        assert store.delete_prefix("jobs/ab") == 0  # again: nothing left, no error
        assert store.delete_prefix("jobs/abc/") == 1  # a trailing slash means the same

    def test_delete_older_than_keeps_the_recent(self, store: ObjectStore) -> None:
        store.put_bytes("uploads/u1/old", b"old", "video/mp4")
        store.put_bytes("jobs/j/old", b"old", "image/png")  # outside the prefix: kept
        self.age(store, "uploads/u1/old", 3600)
        self.age(store, "jobs/j/old", 3600)
        cutoff = datetime.now(UTC) - timedelta(seconds=60)
        store.put_bytes("uploads/u2/new", b"new", "video/mp4")
        assert store.delete_older_than("uploads", cutoff) == 1
        assert not store.exists("uploads/u1/old")
        assert store.exists("uploads/u2/new") and store.exists("jobs/j/old")
        assert store.delete_older_than("uploads", cutoff) == 0
        assert store.delete_older_than("nothing-here", cutoff) == 0


def next_whole_second() -> datetime:
    """For stores whose write times cannot be set: wait for the next whole second and return
    it. S3 listings give LastModified in whole seconds, so what was written before is older
    than the moment returned, and what is written after is not."""
    now = time.time()
    boundary = math.floor(now) + 1
    time.sleep(boundary - now + 0.05)
    return datetime.fromtimestamp(boundary, UTC)
