"""``pixelate_video``: decode, area downscale, one palette, dithering, in one call.

With ``background="remove"`` the decoder hands out larger working pictures that
:mod:`.keying` turns into output pictures with a hard alpha (:mod:`.sprite`); with ``keep``
(the default) nothing of that runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .animation import Animation
from .decode import DecodeOptions, Decoder, SourceInfo, check_output_size, declared_output_frames
from .dither import check_dither, map_frames
from .encode import delays_ms
from .errors import INVALID_OPTIONS, MediaError
from .geometry import check_fit
from .keying import check_background
from .loops import LOOPS, apply_loop
from .palettes import MAX_COLORS, resolve_palette
from .quantize import build_palette
from .sprite import TRANSPARENT_INDEX, collect_keyed, index_with_transparency, subject_box
from .webp import WebPDecoder, open_decoder

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


def validate_options(
    width: int,
    height: int,
    colors: int,
    fps: int,
    dither: str,
    fit: str,
    background: str = "keep",
    loop: str = "none",
) -> None:
    """Raise ``INVALID_OPTIONS`` for anything out of range."""
    _check_int("width", width, 1, MAX_SIZE)
    _check_int("height", height, 1, MAX_SIZE)
    _check_int("colors", colors, 2, MAX_COLORS)
    _check_int("fps", fps, 1, MAX_FPS)
    check_dither(dither)
    check_fit(fit)
    if fit == "subject" and background != "remove":
        raise MediaError(INVALID_OPTIONS, "fit 'subject' needs background 'remove'")
    if loop not in LOOPS:
        raise MediaError(INVALID_OPTIONS, f"loop must be one of {', '.join(LOOPS)}, not {loop!r}")


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 1)


def _collect(decoder: Decoder | WebPDecoder, progress: Progress | None) -> npt.NDArray[np.uint8]:
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
    background: str = "keep",
    key_color: str | None = None,
    loop: str = "none",
) -> Animation:
    """Turn a video file into an indexed pixel-art :class:`Animation`.

    ``background="remove"`` keys out a plain background (``key_color`` ``#rrggbb``, or
    estimated from the clip): palette entry 0 is then transparent and does not count within
    ``colors`` (``colors`` opaque colours + 1, at most 256 entries). ``fit="subject"`` (with
    ``remove``) frames the subject's box over the whole clip, bottom-centred. ``loop``:
    ``none``, ``trim`` (the run of at least 1 s that loops with the least visible seam) or
    ``pingpong`` (see :mod:`.loops`).

    Raises :class:`MediaError` for bad options (``INVALID_OPTIONS``) and bad input.
    """
    validate_options(width, height, colors, fps, dither, fit, background, loop)
    key = check_background(background, key_color)
    fixed = resolve_palette(palette) if palette is not None else None
    if background == "remove" and fixed is not None and len(fixed) >= MAX_COLORS:
        raise MediaError(
            INVALID_OPTIONS, f"with background 'remove' a palette has at most {MAX_COLORS - 1} colours"
        )
    if background == "remove":
        animation = _pixelate_keyed(
            Path(source), width, height, colors, fps, dither, fit, fixed, key, progress
        )
    else:
        animation = _pixelate_opaque(Path(source), width, height, colors, fps, dither, fit, fixed, progress)
    return apply_loop(animation, loop)


def _pixelate_keyed(
    source: Path,
    width: int,
    height: int,
    colors: int,
    fps: int,
    dither: str,
    fit: str,
    fixed: npt.NDArray[np.uint8] | None,
    key: tuple[int, int, int] | None,
    progress: Progress | None,
) -> Animation:
    started = time.perf_counter()
    box = subject_box(source, fps, key) if fit == "subject" else None
    opts = DecodeOptions(width, height, fps, "contain" if fit == "subject" and box is None else fit, box)

    def decode_progress(fraction: float) -> None:
        if progress is not None:
            progress(fraction * _DECODE_SHARE)

    frames, decoder, keyer = collect_keyed(source, opts, key, decode_progress if progress else None)
    timings = {"decode": _ms_since(started)}
    step = time.perf_counter()
    indices, chosen = index_with_transparency(frames, colors, fixed, dither, keyer.key)
    timings["palette"] = _ms_since(step)
    return _finished(indices, chosen, fps, decoder.info, timings, progress, TRANSPARENT_INDEX)


def _pixelate_opaque(
    source: Path,
    width: int,
    height: int,
    colors: int,
    fps: int,
    dither: str,
    fit: str,
    fixed: npt.NDArray[np.uint8] | None,
    progress: Progress | None,
) -> Animation:
    started = time.perf_counter()
    decoder = open_decoder(source, DecodeOptions(width, height, fps, fit))
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
    return _finished(indices, chosen, fps, decoder.info, timings, progress)


def _finished(
    indices: npt.NDArray[np.uint8],
    palette: npt.NDArray[np.uint8],
    fps: int,
    info: SourceInfo,
    timings: dict[str, float],
    progress: Progress | None,
    transparent_index: int | None = None,
) -> Animation:
    """The animation of the indexed frames, the progress bar full."""
    if progress is not None:
        progress(1.0)
    return Animation(
        frames=indices,
        palette=palette,
        delays_ms=delays_ms(len(indices), fps),
        fps=fps,
        source=info,
        timings_ms=timings,
        transparent_index=transparent_index,
    )
