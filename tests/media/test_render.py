"""render_outputs: the worker's entry point, run in a real process pool."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

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


def test_sprite_outputs_are_transparent_where_the_background_was(tmp_path: Path) -> None:
    """A keyed emulator clip through every format, each read back by Pillow: the true
    background is fully transparent, the subject's core fully opaque."""
    import base64

    import numpy as np
    from PIL import Image, ImageSequence

    from pixelmotion.media.keyscore import downscale_matte
    from pixelmotion.providers.emulator.render import render_clip, true_matte

    prompt = "a knight walking in place on a plain flat green (#00ff00) background, static camera"
    source: dict[str, Any] = {"width": 320, "height": 180, "fps": 24}
    clip = render_clip(prompt, tmp_path / "key.mp4", seconds=1, **source)
    out = tmp_path / "out"
    summary = render_outputs(
        clip,
        out,
        width=48,
        height=48,
        colors=12,
        fps=24,
        formats=("sheet", "gif", "json", "webp", "apng", "pngs"),
        background="remove",
        loop="none",
    )
    assert summary["transparentIndex"] == 0
    assert len(summary["palette"]) == 13  # 12 opaque + the transparent entry
    assert summary["keyColor"] == summary["palette"][0]
    indexed = json.loads(gzip.decompress((out / "frames.indexed.json.gz").read_bytes()))
    frames = np.stack(
        [np.frombuffer(base64.b64decode(f), np.uint8).reshape(48, 48) for f in indexed["frames"]]
    )
    # Away from the subject's edge (one pixel either way), the truth is unambiguous.
    truth = np.stack([downscale_matte(true_matte(prompt, i, **source), 48, 48) for i in range(len(frames))])
    padded = np.pad(truth, ((0, 0), (1, 1), (1, 1)), mode="edge")
    neighbours = [padded[:, 1 + dy : 49 + dy, 1 + dx : 49 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    core = np.logical_and.reduce(neighbours)
    background = ~np.logical_or.reduce(neighbours)
    assert core.any() and background.any()

    def check(alpha: np.ndarray, index: int) -> None:
        assert (alpha[background[index]] == 0).all()
        assert (alpha[core[index]] == 255).all()

    for name in ("animation.gif", "animation.webp", "animation.png"):
        with Image.open(out / name) as image:
            alphas = [np.asarray(f.convert("RGBA"))[..., 3] for f in ImageSequence.Iterator(image)]
        assert len(alphas) == len(frames), name
        for i, alpha in enumerate(alphas):
            check(alpha, i)
    for i in range(len(frames)):
        with Image.open(out / "frames" / f"{i:04d}.png") as png:
            check(np.asarray(png.convert("RGBA"))[..., 3], i)
    data = json.loads(gzip.decompress((out / "frames.json.gz").read_bytes()))
    check(np.array(data["frames"][5]["imageData"], dtype=np.uint8).reshape(48, 48, 4)[..., 3], 5)
    with Image.open(out / "sheet.png") as sheet:
        check(np.asarray(sheet.convert("RGBA"))[:48, :48, 3], 0)


def test_pingpong_and_trim_in_the_summary(tmp_path: Path) -> None:
    from pixelmotion.providers.emulator.render import render_clip

    prompt = "a knight walking in place on a plain flat green (#00ff00) background, static camera"
    clip = render_clip(prompt, tmp_path / "key.mp4", width=160, height=90, fps=24, seconds=2)
    pingpong = render_outputs(clip, tmp_path / "a", width=16, height=16, colors=4, fps=12, loop="pingpong")
    assert pingpong["totalFrames"] == 2 * 24 - 2
    assert pingpong["loop"] == {"mode": "pingpong", "start": 0, "frames": 24, "seam": None}
    trimmed = render_outputs(clip, tmp_path / "b", width=16, height=16, colors=4, fps=12, loop="trim")
    assert trimmed["loop"]["mode"] == "trim"
    assert trimmed["totalFrames"] == trimmed["loop"]["frames"] >= 12
    assert isinstance(trimmed["loop"]["seam"], float)
    assert "transparentIndex" not in trimmed
