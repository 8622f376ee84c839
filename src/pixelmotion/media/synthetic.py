"""Deterministic H.264 test clips (moving shapes over a gradient, with film-like grain).

Used by the tests and the benchmark when no better source is at hand.
"""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt


def synthetic_frame(index: int, width: int, height: int, fps: float) -> npt.NDArray[np.uint8]:
    """One RGB frame (H×W×3) of the synthetic scene at frame ``index``."""
    t = index / fps
    y = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)[None, :]
    frame = np.empty((height, width, 3), dtype=np.float32)
    frame[..., 0] = 40 + 150 * y + 0 * x
    frame[..., 1] = 60 + 120 * x * (1 - y)
    frame[..., 2] = 120 + 100 * (1 - x)
    cx, cy = 0.5 + 0.3 * np.cos(t * 1.3), 0.5 + 0.25 * np.sin(t * 1.7)
    disc = ((x - cx) * width / height) ** 2 + (y - cy) ** 2 < 0.04
    frame[disc] = (240, 200, 40)
    bar_x = (0.1 + 0.15 * t) % 1.0
    bar = (np.abs(x - bar_x) < 0.05) & (y > 0.6) & (y < 0.9)
    frame[np.broadcast_to(bar, (height, width))] = (30, 30, 160)
    rng = np.random.default_rng(index)
    grain = rng.normal(0.0, 3.0, size=(height // 4 + 1, width // 4 + 1, 1)).astype(np.float32)
    frame += np.repeat(np.repeat(grain, 4, axis=0), 4, axis=1)[:height, :width]
    return np.clip(frame, 0, 255).astype(np.uint8)


def make_clip(
    path: str | os.PathLike[str],
    *,
    width: int = 320,
    height: int = 180,
    fps: Fraction | int = 24,
    seconds: float = 2.0,
    rotation: int = 0,
    crf: int = 23,
    faststart: bool = False,
) -> Path:
    """Write a deterministic H.264 MP4 and return its path."""
    target = Path(path)
    rate = Fraction(fps)
    count = round(seconds * rate)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(os.fspath(target), mode="w", options=options) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        if rotation:
            stream.set_display_rotation(rotation)
        for i in range(count):
            image = synthetic_frame(i, width, height, float(rate))
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return target
