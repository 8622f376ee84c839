"""A full disk under the local store and the worker's scratch directory: a real 2 MB tmpfs
where the machine lets us mount one, and always a store whose real write() hits /dev/full.
A write that does not fit raises StorageFull (code STORAGE_FULL), leaves no partial object
nor temporary file, keeps the previous object under the key, and other writes go on."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import BinaryIO

import pytest

from pixelmotion.media import render_outputs
from pixelmotion.objects import LocalObjectStore, StorageFull, is_disk_full
from tests.running import CLIP_CACHE

MB = 1024 * 1024


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 2 MB tmpfs, mounted for this test (needs root and a kernel that lets us mount)."""
    mount_point = Path(f"/tmp/pm-small-disk-{uuid.uuid4().hex[:8]}")
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        mount_point.rmdir()
        pytest.skip(
            f"cannot mount a 2 MB tmpfs here ({mounted.stderr.strip() or 'not root'}); "
            "the /dev/full store below covers the same write path"
        )
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)
        mount_point.rmdir()


def leftovers(root: Path) -> list[Path]:
    return [path for path in root.rglob(".tmp-*")]


def test_a_write_that_does_not_fit_a_real_small_disk(small_disk: Path, tmp_path: Path) -> None:
    store = LocalObjectStore(small_disk / "objects")
    old = os.urandom(MB)
    store.put_bytes("jobs/a/sheet.png", old, "image/png")
    big = tmp_path / "big.mp4"
    big.write_bytes(os.urandom(MB + MB // 2))  # fits only once `old` is gone

    with pytest.raises(StorageFull) as raised:
        store.put_file("jobs/a/sheet.png", big, "image/png")  # replacing the old one
    assert raised.value.code == "STORAGE_FULL" and is_disk_full(raised.value)
    assert store.get_bytes("jobs/a/sheet.png") == old  # the old object, whole
    with pytest.raises(StorageFull):
        store.put_file("jobs/b/source.mp4", big, "video/mp4")
    assert not store.exists("jobs/b/source.mp4")  # no partial object under the key
    assert leftovers(small_disk) == []  # nor a temporary file eating the space

    store.put_bytes("jobs/c/sheet.json", b"{}", "application/json")  # small writes still go
    assert store.get_bytes("jobs/c/sheet.json") == b"{}"
    store.delete_prefix("jobs/a")  # space is back: the big write goes through
    store.put_file("jobs/b/source.mp4", big, "video/mp4")
    assert store.get_bytes("jobs/b/source.mp4") == big.read_bytes()


def test_rendering_into_a_full_scratch_directory_says_disk_full(small_disk: Path) -> None:
    clip = next(CLIP_CACHE.glob("*.mp4"), None)
    if clip is None:
        pytest.skip("no emulator clip rendered yet in .cache/emulator-clips")
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * (2 * MB - 16 * 1024))  # leave 16 KB: not enough for a render
    # In a process pool, as the worker renders: the errno survives the trip back.
    with ProcessPoolExecutor(max_workers=1) as pool, pytest.raises(OSError) as raised:
        pool.submit(
            render_outputs,
            str(clip),
            str(small_disk / "out"),
            width=64,
            height=64,
            colors=8,
            fps=12,
            dither="none",
            fit="contain",
        ).result(timeout=60)
    assert is_disk_full(raised.value)


class DevFullStore(LocalObjectStore):
    """The real store, its temporary file's descriptor pointed at /dev/full: the real
    write() fails with ENOSPC, whatever disk the test runs on."""

    def _open_temp(self, fd: int) -> BinaryIO:
        full = os.open("/dev/full", os.O_WRONLY)
        os.dup2(full, fd)
        os.close(full)
        return super()._open_temp(fd)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("method", ["put_file", "put_bytes"])
def test_enospc_from_the_real_write_path(tmp_path: Path, method: str) -> None:
    root = tmp_path / "objects"
    LocalObjectStore(root).put_bytes("jobs/a/out.gif", b"old", "image/gif")
    store = DevFullStore(root)
    source = tmp_path / "out.gif"
    source.write_bytes(b"new" * 100_000)
    with pytest.raises(StorageFull) as raised:
        if method == "put_file":
            store.put_file("jobs/a/out.gif", source, "image/gif")
        else:
            store.put_bytes("jobs/a/out.gif", source.read_bytes(), "image/gif")
    assert raised.value.code == "STORAGE_FULL"
    assert "jobs/a/out.gif" in raised.value.message
    assert store.get_bytes("jobs/a/out.gif") == b"old"
    assert leftovers(root) == []
