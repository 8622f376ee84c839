"""``frames.zip``: one indexed PNG a frame (``0000.png``, ``0001.png``…) in one download."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .encode import indexed_png_bytes

# The PNGs are already deflated: storing them again compressed would only cost time.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the same frames always give the same bytes


def frame_name(index: int, count: int) -> str:
    """Zero-padded to at least four digits, so names sort in frame order."""
    return f"{index:0{max(4, len(str(count - 1)))}d}.png"


def save_frames_zip(
    path: Path, frames: npt.NDArray[np.uint8], palette: npt.NDArray[np.uint8], transparent: int | None = None
) -> None:
    count = len(frames)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for i in range(count):
            info = zipfile.ZipInfo(frame_name(i, count), date_time=_FIXED_TIME)
            archive.writestr(info, indexed_png_bytes(frames[i], palette, transparent))
