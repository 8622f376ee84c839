"""``animation.tres``: a Godot 4 ``SpriteFrames`` resource over ``sheet.png``.

One ``AtlasTexture`` per frame (its rectangle in the sheet), one animation with the fps as
its ``speed``, each frame's own ``duration`` relative to 1/fps (so uneven delays stay
exact) and the loop flag. Godot has no play direction: ``reverse`` lists the frames
backwards and ``pingpong`` lists them forwards then back (ends not repeated).
The sheet is referenced by a path relative to the ``.tres``: keep both in one folder.
"""

from __future__ import annotations

from collections.abc import Sequence

from .encode import TAG_DIRECTIONS, TAG_NAME, sheet_grid
from .errors import INVALID_OPTIONS, MediaError


def play_order(count: int, direction: str) -> list[int]:
    """The frame indices in the order they play once (one loop)."""
    if direction not in TAG_DIRECTIONS:
        raise MediaError(INVALID_OPTIONS, f"tag direction must be one of {', '.join(TAG_DIRECTIONS)}")
    forward = list(range(count))
    if direction == "reverse":
        return forward[::-1]
    if direction == "pingpong":
        return forward + forward[-2:0:-1]
    return forward


def _number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def sprite_frames(
    frame_count: int,
    width: int,
    height: int,
    delays_ms: Sequence[int],
    fps: int,
    *,
    loop: bool = True,
    direction: str = "forward",
    sheet_name: str = "sheet.png",
) -> str:
    """The text of the ``.tres`` resource (the sheet laid out as :func:`encode.sheet_grid`)."""
    order = play_order(frame_count, direction)
    columns, _ = sheet_grid(frame_count, width, height)
    lines = [
        f'[gd_resource type="SpriteFrames" load_steps={frame_count + 2} format=3]',
        "",
        f'[ext_resource type="Texture2D" path="{sheet_name}" id="1_sheet"]',
        "",
    ]
    for i in range(frame_count):
        x, y = (i % columns) * width, (i // columns) * height
        lines += [
            f'[sub_resource type="AtlasTexture" id="AtlasTexture_{i}"]',
            'atlas = ExtResource("1_sheet")',
            f"region = Rect2({x}, {y}, {width}, {height})",
            "",
        ]
    entries = [
        f'{{\n"duration": {_number(delays_ms[i] * fps / 1000)},\n'
        f'"texture": SubResource("AtlasTexture_{i}")\n}}'
        for i in order
    ]
    lines += [
        "[resource]",
        "animations = [{",
        f'"frames": [{", ".join(entries)}],',
        f'"loop": {"true" if loop else "false"},',
        f'"name": &"{TAG_NAME}",',
        f'"speed": {_number(float(fps))}',
        "}]",
        "",
    ]
    return "\n".join(lines)
