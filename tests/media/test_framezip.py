"""``frames.zip``: one indexed PNG a frame, in order."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from pixelmotion.media import Animation
from pixelmotion.media.framezip import frame_name
from pixelmotion.media.render import write_outputs


def test_every_frame_is_a_png_in_order(tmp_path: Path) -> None:
    frames = np.random.default_rng(4).integers(0, 3, (12, 5, 6), dtype=np.uint8)
    palette = np.array([[1, 2, 3], [40, 50, 60], [200, 100, 0]], dtype=np.uint8)
    files = write_outputs(Animation(frames, palette, [100] * 12, 10), tmp_path, ["zip"])
    with zipfile.ZipFile(tmp_path / files["zip"]) as archive:
        names = archive.namelist()
        assert names == [f"{i:04d}.png" for i in range(12)]
        for i, name in enumerate(names):
            image = Image.open(io.BytesIO(archive.read(name)))
            assert image.mode == "P"
            assert np.array_equal(np.asarray(image.convert("RGB")), palette[frames[i]])


def test_names_grow_past_four_digits() -> None:
    assert frame_name(7, 12000) == "00007.png"
