"""The sheet JSON in both TexturePacker layouts (as Aseprite exports them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from pixelmotion.media import Animation
from pixelmotion.media.render import write_outputs


def _animation(direction: str = "forward") -> Animation:
    frames = np.random.default_rng(2).integers(0, 3, (7, 6, 10), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [200, 10, 10], [250, 250, 250]], dtype=np.uint8)
    return Animation(frames, palette, [80, 90, 100, 80, 90, 100, 80], 12, tag_direction=direction)


def test_hash_and_array_layouts_describe_the_same_frames(tmp_path: Path) -> None:
    animation = _animation("pingpong")
    files = write_outputs(animation, tmp_path, ["atlas"])
    assert files["sheet"] == "sheet.png"
    hashed = json.loads((tmp_path / files["sheetHash"]).read_text())
    listed = json.loads((tmp_path / files["sheetArray"]).read_text())
    assert list(hashed["frames"]) == [str(i) for i in range(7)]  # Aseprite's {frame} names
    assert [f["filename"] for f in listed["frames"]] == [str(i) for i in range(7)]
    sheet = Image.open(tmp_path / "sheet.png")
    for meta in (hashed["meta"], listed["meta"]):
        assert meta["image"] == "sheet.png" and meta["format"] == "I8" and meta["scale"] == "1"
        assert meta["size"] == {"w": sheet.width, "h": sheet.height}
        assert meta["frameTags"] == [{"name": "animation", "from": 0, "to": 6, "direction": "pingpong"}]
        assert meta["app"] and meta["version"]
    pixels = np.asarray(sheet)
    for i, entry in enumerate(listed["frames"]):
        assert entry["duration"] == animation.delays_ms[i] == hashed["frames"][str(i)]["duration"]
        rect = entry["frame"]
        assert rect == hashed["frames"][str(i)]["frame"]
        cut = pixels[rect["y"] : rect["y"] + rect["h"], rect["x"] : rect["x"] + rect["w"]]
        assert np.array_equal(cut, animation.frames[i])


def test_the_default_sidecar_keeps_its_names_and_gets_the_direction(tmp_path: Path) -> None:
    write_outputs(_animation("reverse"), tmp_path, ["sheet"])
    meta = json.loads((tmp_path / "sheet.json").read_text())
    assert "frame_0000" in meta["frames"]
    assert meta["meta"]["frameTags"][0]["direction"] == "reverse"
