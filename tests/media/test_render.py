"""render_outputs: the worker's entry point, run in a real process pool."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from pixelmotion.media import MediaError, render_outputs


def test_render_outputs_in_process_pool(clip: Path, tmp_path: Path) -> None:
    with ProcessPoolExecutor(max_workers=1) as pool:
        result = pool.submit(
            render_outputs, str(clip), str(tmp_path), width=32, height=32, colors=16, fps=24
        ).result()
    json.dumps(result)  # plain data only
    assert result["totalFrames"] == 48
    assert result["durationMs"] == 2000
    assert result["files"] == {
        "sheet": "sheet.png",
        "sheetJson": "sheet.json",
        "gif": "animation.gif",
        "frames": "frames.json.gz",
        "indexed": "frames.indexed.json.gz",
    }
    for name in result["files"].values():
        assert (tmp_path / name).is_file()
    frames = json.loads(gzip.decompress((tmp_path / "frames.json.gz").read_bytes()))
    assert len(frames["frames"]) == 48
    indexed = json.loads(gzip.decompress((tmp_path / "frames.indexed.json.gz").read_bytes()))
    assert indexed["palette"] == result["palette"]
    assert set(result["timingsMs"]) == {"decode", "palette", "encode"}
    assert result["source"]["width"] == 320 and result["source"]["codec"] == "h264"


def test_render_all_formats(clip: Path, tmp_path: Path) -> None:
    result = render_outputs(
        clip,
        tmp_path,
        width=16,
        height=16,
        colors=8,
        fps=12,
        formats=("webp", "apng", "pngs"),
        dither="bayer",
    )
    assert (tmp_path / "animation.webp").is_file()
    assert (tmp_path / "animation.png").is_file()
    assert len(list((tmp_path / "frames").glob("*.png"))) == result["totalFrames"] == 24
    assert (tmp_path / "frames.indexed.json.gz").is_file()
    assert not (tmp_path / "sheet.png").exists()


def test_render_unknown_format(clip: Path, tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        render_outputs(clip, tmp_path, width=16, height=16, colors=8, fps=12, formats=("mp3",))
    assert caught.value.code == "INVALID_OPTIONS"


def test_render_error_crosses_process_boundary(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope" * 100)
    with ProcessPoolExecutor(max_workers=1) as pool, pytest.raises(MediaError) as caught:
        pool.submit(
            render_outputs, str(bad), str(tmp_path / "o"), width=8, height=8, colors=4, fps=12
        ).result()
    assert caught.value.code == "VIDEO_UNREADABLE"
