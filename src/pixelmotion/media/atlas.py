"""The sprite sheet's JSON in both TexturePacker layouts, as Aseprite exports them and
Phaser reads them (``load.atlas`` for the frames, ``load.aseprite`` and
``anims.createFromAseprite`` for the animation too):

- ``sheet.hash.json``, "JSON Hash": ``frames`` is an object keyed by frame name;
- ``sheet.array.json``, "JSON Array": ``frames`` is a list, each with its ``filename``.

Frames are named ``"0"``, ``"1"``… (Aseprite's ``--filename-format {frame}``): Phaser's
``createFromAseprite`` looks frames up by that name. Each frame has its ``duration`` in ms;
``meta.frameTags`` holds one tag with the animation's direction. ``sheet.json`` (the default
output) stays the hash layout with ``frame_0000`` names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .encode import sheet_metadata

LAYOUT_FILES = {"hash": "sheet.hash.json", "array": "sheet.array.json"}


def save_atlas_layouts(
    out_dir: Path,
    frames: npt.NDArray[np.uint8],
    delays_ms: Sequence[int],
    *,
    direction: str = "forward",
    image_name: str = "sheet.png",
) -> dict[str, str]:
    """Write both layouts next to ``image_name``; return ``{"hash": name, "array": name}``."""
    written = {}
    for layout, name in LAYOUT_FILES.items():
        meta = sheet_metadata(frames, delays_ms, image_name, layout, direction=direction, index_names=True)
        (out_dir / name).write_text(json.dumps(meta, indent=1), encoding="utf-8")
        written[layout] = name
    return written
