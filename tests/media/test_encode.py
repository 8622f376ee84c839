"""Every output format, read back."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence
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


def _sprite() -> Animation:
    """Three frames on a transparent background (index 0); the subject moves, so pixels turn
    from opaque back to transparent."""
    palette = np.array([[0, 255, 0], [200, 30, 30], [30, 30, 200]], dtype=np.uint8)
    frames = np.zeros((3, 12, 10), dtype=np.uint8)
    frames[0, 2:8, 2:6] = 1
    frames[1, 4:10, 4:8] = 2
    frames[2, 0:3, 0:3] = 1
    return Animation(frames=frames, palette=palette, delays_ms=[100, 100, 100], fps=10, transparent_index=0)


def _alpha_frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        return [np.asarray(frame.convert("RGBA"))[..., 3] for frame in ImageSequence.Iterator(image)]


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("gif", "animation.gif"), ("webp", "animation.webp"), ("apng", "animation.png")],
)
def test_transparent_background_in_animated_formats(tmp_path: Path, fmt: str, name: str) -> None:
    from pixelmotion.media.render import write_outputs

    sprite = _sprite()
    write_outputs(sprite, tmp_path, [fmt])
    alphas = _alpha_frames(tmp_path / name)
    assert len(alphas) == 3
    for alpha, frame in zip(alphas, sprite.frames, strict=True):
        assert (alpha[frame == 0] == 0).all()
        assert (alpha[frame != 0] == 255).all()


def test_transparent_background_in_sheet_pngs_and_json(tmp_path: Path) -> None:
    from pixelmotion.media.render import write_outputs

    sprite = _sprite()
    files = write_outputs(sprite, tmp_path, ["sheet", "pngs", "json"])
    with Image.open(tmp_path / "sheet.png") as sheet:
        alpha = np.asarray(sheet.convert("RGBA"))[..., 3]
    assert (alpha[:12, :10][sprite.frames[0] == 0] == 0).all()
    assert (alpha[:12, :10][sprite.frames[0] != 0] == 255).all()
    assert (alpha == 0).sum() == (sprite.frames == 0).sum() + (alpha.size - sprite.frames.size)
    for i in range(3):
        with Image.open(tmp_path / "frames" / f"{i:04d}.png") as png:
            assert ((np.asarray(png.convert("RGBA"))[..., 3] == 255) == (sprite.frames[i] != 0)).all()
    import gzip

    data = json.loads(gzip.decompress((tmp_path / files["frames"]).read_bytes()))
    rgba = np.array(data["frames"][1]["imageData"]).reshape(12, 10, 4)
    assert ((rgba[..., 3] == 255) == (sprite.frames[1] != 0)).all()
    assert ((rgba[..., 3] == 0) == (sprite.frames[1] == 0)).all()
    indexed = json.loads(gzip.decompress((tmp_path / files["indexed"]).read_bytes()))
    assert indexed["transparentIndex"] == 0
    assert sprite.to_frames_json()["frames"][1]["imageData"][3] == 0


def test_pingpong_is_doubled_where_there_is_no_direction(tmp_path: Path) -> None:
    from dataclasses import replace

    from pixelmotion.media.render import write_outputs

    sprite = replace(_sprite(), tag_direction="pingpong")
    assert len(sprite.unrolled().frames) == 4  # 0 1 2 1
    write_outputs(sprite, tmp_path, ["gif", "sheet"])
    assert len(_alpha_frames(tmp_path / "animation.gif")) == 4
    # The sheet has a direction of its own (its frame tag, as Phaser and Aseprite read it):
    # it keeps each frame once and says pingpong.
    meta = json.loads((tmp_path / "sheet.json").read_text())
    assert len(meta["frames"]) == 3
    assert meta["meta"]["frameTags"][0]["direction"] == "pingpong"
