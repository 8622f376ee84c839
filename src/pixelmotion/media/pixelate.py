"""``pixelate_video``: decode, area downscale, one palette, dithering, in one call."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .animation import Animation
from .decode import DecodeOptions, Decoder, check_output_size, declared_output_frames
from .dither import check_dither, map_frames
from .encode import delays_ms
from .errors import INVALID_OPTIONS, MediaError
from .geometry import check_fit
from .palettes import MAX_COLORS, resolve_palette
from .quantize import build_palette

MAX_SIZE = 1024
MAX_FPS = 60

Progress = Callable[[float], None]
# Share of the progress bar each step takes.
_DECODE_SHARE = 0.85
_PALETTE_SHARE = 0.05


def _check_int(name: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise MediaError(INVALID_OPTIONS, f"{name} must be an integer from {low} to {high}")
    return value


def validate_options(width: int, height: int, colors: int, fps: int, dither: str, fit: str) -> None:
    """Raise ``INVALID_OPTIONS`` for anything out of range."""
    _check_int("width", width, 1, MAX_SIZE)
    _check_int("height", height, 1, MAX_SIZE)
    _check_int("colors", colors, 2, MAX_COLORS)
    _check_int("fps", fps, 1, MAX_FPS)
    check_dither(dither)
    check_fit(fit)


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _collect(decoder: Decoder, progress: Progress | None) -> npt.NDArray[np.uint8]:
    """All output pictures in one N×H×W×4 array, filled as they are decoded (no copy of the
    whole animation at the end)."""

    def decode_progress(fraction: float) -> None:
        if progress is not None:
            progress(fraction * _DECODE_SHARE)

    expected = declared_output_frames(decoder.info, decoder.opts) + 1
    frames: npt.NDArray[np.uint8] | None = None
    count = 0
    # Four bytes per pixel: the palette mapping and the stability test work on 32-bit words.
    for picture in decoder.frames(decode_progress if progress else None, channels=4):
        if frames is None:
            frames = np.empty((expected, *picture.shape), dtype=np.uint8)
        elif count == len(frames):  # longer than the container said
            frames = np.concatenate([frames, np.empty_like(frames)])
        frames[count] = picture
        count += 1
    assert frames is not None  # the decoder yields at least one picture or raises
    return frames[:count]


def pixelate_video(
    source: str | Path,
    *,
    width: int,
    height: int,
    colors: int,
    fps: int,
    dither: str = "none",
    fit: str = "crop",
    palette: list[str] | str | None = None,
    progress: Progress | None = None,
) -> Animation:
    """Turn a video file into an indexed pixel-art :class:`Animation`.

    Raises :class:`MediaError` for bad options (``INVALID_OPTIONS``) and bad input.
    """
    validate_options(width, height, colors, fps, dither, fit)
    fixed = resolve_palette(palette) if palette is not None else None
    started = time.perf_counter()
    decoder = Decoder(Path(source), DecodeOptions(width, height, fps, fit))
    try:
        check_output_size(decoder.info, decoder.opts)
        frames = _collect(decoder, progress)
    finally:
        decoder.close()
    timings = {"decode": _ms_since(started)}
    step = time.perf_counter()
    chosen = fixed if fixed is not None else build_palette(frames, colors)
    if progress is not None:
        progress(_DECODE_SHARE + _PALETTE_SHARE)
    indices = map_frames(frames, chosen, dither, overwrite=True)
    timings["palette"] = _ms_since(step)
    if progress is not None:
        progress(1.0)
    return Animation(
        frames=indices,
        palette=chosen,
        delays_ms=delays_ms(len(indices), fps),
        fps=fps,
        source=decoder.info,
        timings_ms=timings,
    )
