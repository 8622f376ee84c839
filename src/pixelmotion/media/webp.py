"""Animated WebP input, decoded with Pillow (FFmpeg's WebP decoder reads still images only).

:class:`WebPDecoder` has the interface of :class:`decode.Decoder`, so the pipeline treats a
WebP like any video: same limits, same frame choice by presentation time (each output
frame shows the picture on screen at ``(i + 0.5) / fps``), same area downscale.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from .decode import MAX_DURATION_S, MAX_SOURCE_PIXELS, MAX_SOURCE_SIDE, DecodeOptions, Decoder, SourceInfo
from .errors import VIDEO_TOO_LARGE, VIDEO_UNREADABLE, MediaError
from .geometry import place
from .resample import AreaScaler

# Pillow's default for frames that give no duration (as browsers show them).
DEFAULT_FRAME_MS = 100


def is_webp(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(12)
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


class WebPDecoder:
    """Streams output pictures out of one (animated or still) WebP file."""

    def __init__(self, path: Path, opts: DecodeOptions) -> None:
        self.path = path
        self.opts = opts
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                self.image = Image.open(os.fspath(path))
                self.image.load()
        except Exception as exc:
            raise MediaError(VIDEO_UNREADABLE, f"not a readable WebP image ({type(exc).__name__})") from None
        width, height = self.image.size
        if max(width, height) > MAX_SOURCE_SIDE or width * height > MAX_SOURCE_PIXELS:
            self.close()
            raise MediaError(VIDEO_TOO_LARGE, f"the image is {width}×{height}, too large")
        count = int(getattr(self.image, "n_frames", 1))
        self.durations = [self._duration(i) for i in range(count)]
        total_s = sum(self.durations) / 1000
        if total_s > MAX_DURATION_S:
            self.close()
            raise MediaError(
                VIDEO_TOO_LARGE, f"the animation lasts {total_s:.0f} s (limit {MAX_DURATION_S:.0f} s)"
            )
        self.info = SourceInfo(
            width=width,
            height=height,
            fps=count / total_s if total_s else 0.0,
            duration_ms=round(total_s * 1000),
            codec="webp",
            declared_frames=count,
        )

    def _duration(self, index: int) -> int:
        self.image.seek(index)
        self.image.load()  # Pillow sets a WebP frame's duration when it decodes the frame
        return int(self.image.info.get("duration") or DEFAULT_FRAME_MS)

    def close(self) -> None:
        self.image.close()

    def frames(
        self, progress: Callable[[float], None] | None = None, channels: int = 3
    ) -> Iterator[npt.NDArray[np.uint8]]:
        """One picture per output frame, as :meth:`decode.Decoder.frames`."""
        width, height = self.image.size
        placement = place(width, height, self.opts.width, self.opts.height, self.opts.fit)
        scaler = AreaScaler(width, height, self.opts.width, self.opts.height, placement, channels)
        total = max(1, round(self.info.duration_ms / 1000 * self.opts.fps))
        start = 0.0
        slot = 0
        for index, duration in enumerate(self.durations):
            end = start + duration / 1000
            # Slots whose sampling time (i + 0.5) / fps falls in [start, end) show this frame.
            last = total if index == len(self.durations) - 1 else math.ceil(end * self.opts.fps - 0.5)
            count = max(0, min(total, last) - slot)
            if count:
                self.image.seek(index)
                rgb = np.asarray(self.image.convert("RGB"))
                picture = scaler.scale(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
                for _ in range(count):
                    yield picture
                slot += count
            start = end
            if progress is not None:
                progress(min(1.0, start / max(1e-3, self.info.duration_ms / 1000)))


def open_decoder(path: Path, opts: DecodeOptions) -> Decoder | WebPDecoder:
    """The decoder for ``path``: Pillow's for WebP, PyAV's (FFmpeg) for everything else,
    animated GIF and APNG included."""
    if path.is_file() and is_webp(path):
        return WebPDecoder(path, opts)
    return Decoder(path, opts)
