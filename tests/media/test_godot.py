"""``animation.tres``: a Godot 4 SpriteFrames resource, parsed back."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from pixelmotion.media import Animation
from pixelmotion.media.encode import sheet_metadata
from pixelmotion.media.godot import play_order
from pixelmotion.media.render import write_outputs


def _animation(direction: str) -> Animation:
    frames = np.zeros((5, 8, 12), dtype=np.uint8)
    palette = np.array([[0, 0, 0], [255, 255, 255]], dtype=np.uint8)
    return Animation(frames, palette, [83, 84, 83, 83, 84], 12, tag_direction=direction)


def _parse(text: str) -> dict[str, object]:
    header = re.match(r'\[gd_resource type="SpriteFrames" load_steps=(\d+) format=3\]', text)
    assert header is not None
    sheet = re.findall(r'\[ext_resource type="Texture2D" path="([^"]+)" id="([^"]+)"\]', text)
    regions = dict(
        re.findall(
            r'\[sub_resource type="AtlasTexture" id="([^"]+)"\]\natlas = ExtResource\("1_sheet"\)\n'
            r"region = Rect2\((\d+, \d+, \d+, \d+)\)",
            text,
        )
    )
    body = text[text.index("[resource]") :]
    frames = re.findall(r'"duration": ([\d.]+),\n"texture": SubResource\("([^"]+)"\)', body)
    speed = re.search(r'"speed": ([\d.]+)', body)
    loop = re.search(r'"loop": (true|false)', body)
    name = re.search(r'"name": &"([^"]+)"', body)
    assert speed and loop and name
    return {
        "load_steps": int(header.group(1)),
        "sheet": sheet,
        "regions": {k: tuple(int(v) for v in r.split(", ")) for k, r in regions.items()},
        "frames": [(float(d), k) for d, k in frames],
        "speed": float(speed.group(1)),
        "loop": loop.group(1) == "true",
        "name": name.group(1),
    }


def test_the_resource_names_the_sheet_and_every_frame_rectangle(tmp_path: Path) -> None:
    animation = _animation("forward")
    files = write_outputs(animation, tmp_path, ["godot"])
    assert files["godot"] == "animation.tres" and (tmp_path / "sheet.png").exists()
    parsed = _parse((tmp_path / "animation.tres").read_text())
    assert parsed["sheet"] == [("sheet.png", "1_sheet")]
    assert parsed["load_steps"] == 5 + 2
    rects = sheet_metadata(animation.frames, animation.delays_ms, "sheet.png")["frames"]
    expected = {
        f"AtlasTexture_{i}": tuple(r["frame"][k] for k in "xywh") for i, r in enumerate(rects.values())
    }
    assert parsed["regions"] == expected
    assert [k for _, k in parsed["frames"]] == [f"AtlasTexture_{i}" for i in range(5)]  # type: ignore[attr-defined]
    durations = [d for d, _ in parsed["frames"]]  # type: ignore[attr-defined]
    assert durations == pytest.approx([d * 12 / 1000 for d in animation.delays_ms])
    assert parsed["speed"] == 12.0 and parsed["loop"] is True and parsed["name"] == "animation"


@pytest.mark.parametrize(
    ("direction", "order"),
    [("forward", [0, 1, 2, 3]), ("reverse", [3, 2, 1, 0]), ("pingpong", [0, 1, 2, 3, 2, 1])],
)
def test_directions_become_frame_orders(direction: str, order: list[int], tmp_path: Path) -> None:
    assert play_order(4, direction) == order
    write_outputs(_animation(direction), tmp_path, ["godot"])
    listed = _parse((tmp_path / "animation.tres").read_text())["frames"]
    assert [int(k.rsplit("_", 1)[1]) for _, k in listed] == play_order(5, direction)  # type: ignore[attr-defined]
