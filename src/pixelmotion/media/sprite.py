"""``background="remove"`` in the pipeline: keyed decoding, the subject's box, the palette
with its transparent entry.

Transparency and ``colors``: the transparent entry does NOT count within ``colors``. A job
asking for 16 colours gets 16 opaque colours plus one transparent entry (palette index 0),
17 entries in all, capped at 256 (so ``colors=256`` gives 255 opaque colours).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .decode import DecodeOptions, Decoder, check_output_size, declared_output_frames
from .dither import map_frames
from .geometry import Box, place
from .keying import ESTIMATE_FRAMES, Keyer, working_factor
from .palettes import MAX_COLORS
from .quantize import build_palette

ByteArray = npt.NDArray[np.uint8]
TRANSPARENT_INDEX = 0
# The first pass of fit "subject" keys pictures of at most this long a side.
SUBJECT_PASS_SIDE = 160


def keyed_decoder(
    path: Path, opts: DecodeOptions, key: tuple[int, int, int] | None, factor: int | None = None
) -> tuple[Decoder, Keyer]:
    """A decoder of working pictures (``factor`` × the output size; by default as many
    as :func:`working_factor` allows) and the keyer for them."""
    decoder = Decoder(path, opts)
    info = decoder.info
    if factor is None:
        crop = place(info.width, info.height, opts.width, opts.height, opts.fit, 1.0, opts.subject)
        factor = working_factor(crop.src_w, crop.src_h, crop.dst_w, crop.dst_h)
    decoder.opts = DecodeOptions(opts.width * factor, opts.height * factor, opts.fps, opts.fit, opts.subject)
    return decoder, Keyer(factor, key)


def keyed_pictures(
    decoder: Decoder, keyer: Keyer, progress: Callable[[float], None] | None = None
) -> Iterator[ByteArray]:
    """Output pictures (H×W×4: RGB, alpha 0 or 255), keyed one by one after the first
    frames have set the key colour and the noise level."""
    head: list[ByteArray] = []
    prepared = False
    for picture in decoder.frames(progress, channels=4):
        if prepared:
            yield keyer(picture)
            continue
        head.append(picture.copy())  # the decoder may hand out the same picture again
        if len(head) == ESTIMATE_FRAMES:
            keyer.prepare(head)
            prepared = True
            yield from (keyer(frame) for frame in head)
    if not prepared and head:
        keyer.prepare(head)
        yield from (keyer(frame) for frame in head)


def collect_keyed(
    path: Path,
    opts: DecodeOptions,
    key: tuple[int, int, int] | None,
    progress: Callable[[float], None] | None,
    factor: int | None = None,
) -> tuple[ByteArray, Decoder, Keyer]:
    """All keyed output pictures of a clip in one N×H×W×4 array."""
    decoder, keyer = keyed_decoder(path, opts, key, factor)
    try:
        check_output_size(decoder.info, opts)
        expected = declared_output_frames(decoder.info, opts) + 1
        frames: ByteArray | None = None
        count = 0
        for picture in keyed_pictures(decoder, keyer, progress):
            if frames is None:
                frames = np.empty((expected, *picture.shape), dtype=np.uint8)
            elif count == len(frames):
                frames = np.concatenate([frames, np.empty_like(frames)])
            frames[count] = picture
            count += 1
    finally:
        decoder.close()
    assert frames is not None  # the decoder yields at least one picture or raises
    return frames[:count], decoder, keyer


def subject_box(path: Path, fps: int, key: tuple[int, int, int] | None) -> Box | None:
    """The union of the subject's bounding boxes over all frames, in coded source pixels
    (None when no frame has any subject, or the source is rotated: the caller then shows the
    whole frame, letterboxed), from a first pass at reduced resolution."""
    probe = Decoder(path, DecodeOptions(1, 1, fps, "stretch"))
    width, height = probe.info.width, probe.info.height
    probe.close()
    scale = min(1.0, SUBJECT_PASS_SIDE / max(width, height))
    small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
    # One sample per pixel: a box needs no area-accurate edge.
    frames, decoder, _ = collect_keyed(
        path, DecodeOptions(small_w, small_h, fps, "stretch"), key, None, factor=1
    )
    if decoder.rotation:
        return None  # the box would be in turned pixels; such clips get the whole frame
    seen = np.asarray((frames[..., 3] > 0).any(axis=0), dtype=bool)
    if not seen.any():
        return None
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    sx, sy = width / small_w, height / small_h
    return (cols[0] * sx, rows[0] * sy, (cols[-1] + 1) * sx, (rows[-1] + 1) * sy)


def opaque_colors(colors: int) -> int:
    """How many opaque colours a job asking for ``colors`` gets (the transparent entry is
    extra, within MAX_COLORS entries in all)."""
    return min(colors, MAX_COLORS - 1)


def index_with_transparency(
    frames: ByteArray,
    colors: int,
    fixed: ByteArray | None,
    dither: str,
    key: tuple[int, int, int] | None,
) -> tuple[ByteArray, ByteArray]:
    """(N×H×W indices, palette) for keyed N×H×W×4 frames: the palette is built from the
    opaque pixels only, entry TRANSPARENT_INDEX (the key colour) is the transparent one."""
    opaque = frames[..., 3] > 0
    if fixed is not None:
        chosen = fixed[: opaque_colors(len(fixed))]
    elif opaque.any():
        chosen = build_palette(frames[opaque], opaque_colors(colors))
    else:
        chosen = np.zeros((1, 3), dtype=np.uint8)
    indices = map_frames(frames, chosen, dither, overwrite=True)
    indices += 1  # at most 255 opaque colours: no overflow
    indices[~opaque] = TRANSPARENT_INDEX
    transparent = np.array([key or (0, 0, 0)], dtype=np.uint8)
    return indices, np.ascontiguousarray(np.concatenate([transparent, chosen]))
