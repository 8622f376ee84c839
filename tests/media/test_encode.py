"""Every output format, read back."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageSequence
from tests.images import frame_count, open_image

from pixelmotion.media import Animation, pixelate_video
from pixelmotion.media.encode import delays_cs, delays_ms, sheet_grid


@pytest.fixture(scope="module")
def animation(clip: Path) -> Animation:
    return pixelate_video(clip, width=24, height=16, colors=16, fps=24)


def test_delays_add_up() -> None:
    assert sum(delays_ms(120, 24)) == 5000
    assert sum(delays_cs(120, 24)) == 500
    assert set(delays_cs(24, 24)) == {4, 5}


def test_sheet_and_sidecar(animation: Animation, tmp_path: Path) -> None:
    sidecar = animation.save_sheet(tmp_path / "sheet.png")
    assert sidecar == tmp_path / "sheet.json"
    image = open_image(tmp_path / "sheet.png")
    assert image.mode == "P"
    meta = json.loads(sidecar.read_text())
    assert meta["meta"]["image"] == "sheet.png"
    assert meta["meta"]["size"] == {"w": image.width, "h": image.height}
    pixels = np.asarray(image)
    entries = list(meta["frames"].values())
    assert len(entries) == len(animation.frames)
    for i, entry in enumerate(entries):
        rect = entry["frame"]
        cell = pixels[rect["y"] : rect["y"] + rect["h"], rect["x"] : rect["x"] + rect["w"]]
        assert np.array_equal(cell, animation.frames[i])
        assert entry["duration"] == animation.delays_ms[i]
    assert sum(e["duration"] for e in entries) == 2000


def test_sheet_array_layout(animation: Animation, tmp_path: Path) -> None:
    meta = json.loads(animation.save_sheet(tmp_path / "s.png", layout="array").read_text())
    assert isinstance(meta["frames"], list) and meta["frames"][0]["filename"] == "frame_0000"


def test_sheet_grid_is_roughly_square() -> None:
    assert sheet_grid(120, 64, 64) == (11, 11)
    assert sheet_grid(1, 64, 64) == (1, 1)


def _gif_frames(path: Path) -> tuple[list[np.ndarray], list[int]]:
    image = open_image(path)
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        frames.append(np.asarray(frame.convert("RGB")))
        durations.append(frame.info["duration"])
    return frames, durations


def test_gif_round_trip_and_timing(animation: Animation, tmp_path: Path) -> None:
    animation.save_gif(tmp_path / "a.gif")
    frames, durations = _gif_frames(tmp_path / "a.gif")
    assert sum(durations) == 2000  # exactly the clip length
    rgb = animation.rgb()
    # Identical consecutive frames may be merged into one longer frame.
    assert len(frames) <= len(rgb)
    assert np.array_equal(frames[0], rgb[0])
    assert np.array_equal(frames[-1], rgb[-1])
    assert open_image(tmp_path / "a.gif").info.get("loop") == 0


def test_webp_lossless(animation: Animation, tmp_path: Path) -> None:
    animation.save_webp(tmp_path / "a.webp")
    image = open_image(tmp_path / "a.webp")
    assert frame_count(image) == len(animation.frames)
    image.seek(3)
    assert np.array_equal(np.asarray(image.convert("RGB")), animation.rgb()[3])


def test_apng(animation: Animation, tmp_path: Path) -> None:
    animation.save_apng(tmp_path / "a.png")
    image = open_image(tmp_path / "a.png")
    assert getattr(image, "is_animated", False)
    assert frame_count(image) == len(animation.frames)
    image.seek(5)
    assert np.array_equal(np.asarray(image.convert("RGB")), animation.rgb()[5])


def test_pngs(animation: Animation, tmp_path: Path) -> None:
    paths = animation.save_pngs(tmp_path / "frames")
    assert [p.name for p in paths[:2]] == ["0000.png", "0001.png"]
    assert np.array_equal(np.asarray(open_image(paths[7]).convert("RGB")), animation.rgb()[7])


def test_frames_json(animation: Animation) -> None:
    data = animation.to_frames_json()
    assert (data["width"], data["height"], data["fps"]) == (24, 16, 24)
    first = data["frames"][0]
    assert len(first["imageData"]) == 24 * 16 * 4
    rgba = np.array(first["imageData"], dtype=np.uint8).reshape(16, 24, 4)
    assert np.array_equal(rgba[..., :3], animation.rgb()[0])
    assert (rgba[..., 3] == 255).all()
    assert first["delayMs"] == animation.delays_ms[0]
    compact = json.dumps(data, separators=(",", ":")).encode()
    assert animation.frames_json_bytes() == compact


def test_indexed_json(animation: Animation) -> None:
    data = animation.to_indexed_json()
    assert data["palette"] == animation.palette_hex()
    assert data["delaysMs"] == animation.delays_ms
    raw = np.frombuffer(base64.b64decode(data["frames"][2]), dtype=np.uint8)
    assert np.array_equal(raw.reshape(16, 24), animation.frames[2])
