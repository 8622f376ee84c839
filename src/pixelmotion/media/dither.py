"""Map RGB frames to palette indices: nearest colour, ordered (Bayer) or Floyd–Steinberg
dithering, and temporal stability (a pixel keeps its index while its source holds still)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from .errors import INVALID_OPTIONS, MediaError

ByteArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]

DITHERS = ("none", "bayer", "floyd")
# A pixel keeps its previous index while no channel of its source moved by more than this
# many levels since the index was chosen: no flicker on still or slowly drifting areas.
STABLE_LEVELS = 4
# Up to this many pixel×colour distance evaluations, map exactly; above, through a LUT.
EXACT_LIMIT = 1_000_000
LUT_BITS = 7
_CHUNK = 1 << 16
_KEY_CHUNK = 1 << 18

_BAYER_8 = np.array(
    [
        [0, 32, 8, 40, 2, 34, 10, 42],
        [48, 16, 56, 24, 50, 18, 58, 26],
        [12, 44, 4, 36, 14, 46, 6, 38],
        [60, 28, 52, 20, 62, 30, 54, 22],
        [3, 35, 11, 43, 1, 33, 9, 41],
        [51, 19, 59, 27, 49, 17, 57, 25],
        [15, 47, 7, 39, 13, 45, 5, 37],
        [63, 31, 55, 23, 61, 29, 53, 21],
    ],
    dtype=np.float32,
)


def check_dither(dither: str) -> None:
    if dither not in DITHERS:
        raise MediaError(INVALID_OPTIONS, f"dither must be one of {', '.join(DITHERS)}, not {dither!r}")


class NearestColor:
    """Nearest palette colour (squared RGB distance) for many uint8 pixels.

    Small jobs are mapped exactly. Large ones go through a lookup table over 7-bit-per-channel
    cells, filled only for the cells the pixels actually use (at most 0.5 level off).
    """

    def __init__(self, palette: ByteArray) -> None:
        self.palette = palette.astype(np.float32)
        self.norms = (self.palette * self.palette).sum(axis=1)

    def exact(self, pixels: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
        out = np.empty(len(pixels), dtype=np.uint8)
        for start in range(0, len(pixels), _CHUNK):
            part = pixels[start : start + _CHUNK].astype(np.float32)
            score = self.norms[None, :] - 2.0 * (part @ self.palette.T)
            out[start : start + _CHUNK] = score.argmin(axis=1)
        return out

    def __call__(self, pixels: ByteArray) -> npt.NDArray[np.uint8]:
        """``pixels``: n×3 uint8 RGB. Returns n palette indices."""
        if len(pixels) * len(self.palette) <= EXACT_LIMIT:
            return self.exact(pixels)
        keys = np.empty(len(pixels), dtype=np.uint32)
        seen = np.zeros(1 << (3 * LUT_BITS), dtype=bool)
        # Chunks keep the temporaries in cache.
        for start in range(0, len(pixels), _KEY_CHUNK):
            part = keys[start : start + _KEY_CHUNK]
            cells = pixels[start : start + _KEY_CHUNK] >> (8 - LUT_BITS)
            np.copyto(part, cells[:, 0])
            part <<= LUT_BITS
            part |= cells[:, 1]
            part <<= LUT_BITS
            part |= cells[:, 2]
            seen[part] = True
        used = np.flatnonzero(seen)
        mask = (1 << LUT_BITS) - 1
        cells = np.stack([used >> (2 * LUT_BITS), (used >> LUT_BITS) & mask, used & mask], 1)
        shift = 8 - LUT_BITS
        centres = cells.astype(np.float32) * (1 << shift) + ((1 << shift) - 1) / 2
        lut = np.zeros(1 << (3 * LUT_BITS), dtype=np.uint8)
        lut[used] = self.exact(centres)
        out = np.empty(len(pixels), dtype=np.uint8)
        for start in range(0, len(pixels), _KEY_CHUNK):
            np.take(lut, keys[start : start + _KEY_CHUNK], out=out[start : start + _KEY_CHUNK])
        return out


def _bayer_offsets(height: int, width: int, palette: ByteArray) -> FloatArray:
    """Per-pixel offsets (H×W×1) of the ordered dither, scaled to the palette's spacing."""
    colors = palette.astype(np.float32)
    if len(colors) < 2:
        return np.zeros((height, width, 1), dtype=np.float32)
    d = ((colors[:, None, :] - colors[None, :, :]) ** 2).sum(axis=-1)
    np.fill_diagonal(d, np.inf)
    spacing = float(np.median(np.sqrt(d.min(axis=1)))) / np.sqrt(3.0)
    tile = (_BAYER_8 + 0.5) / 64.0 - 0.5
    reps = (-(-height // 8), -(-width // 8))
    offsets = np.tile(tile, reps)[:height, :width] * spacing
    return np.asarray(offsets[..., None], dtype=np.float32)


def _floyd(frame: ByteArray, palette_image: Image.Image) -> npt.NDArray[np.uint8]:
    image = Image.fromarray(frame, "RGB")
    mapped = image.quantize(palette=palette_image, dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(mapped, dtype=np.uint8)


def _palette_image(palette: ByteArray) -> Image.Image:
    image = Image.new("P", (1, 1))
    image.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
    return image


def _abs_diff_max(a: ByteArray, b: ByteArray) -> ByteArray:
    """Per pixel, the largest channel difference of two H×W×3 uint8 pictures."""
    diff = np.maximum(a, b)
    diff -= np.minimum(a, b)
    return np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])


def hold_still_pixels(frames: ByteArray) -> None:
    """In place: a pixel keeps the value it had in the previous frame while no channel of
    its source moved by more than STABLE_LEVELS since that value was taken (the anchor)."""
    for i in range(1, len(frames)):
        previous, frame = frames[i - 1], frames[i]
        hold = _abs_diff_max(frame, previous) <= STABLE_LEVELS
        np.copyto(frame, previous, where=hold[..., None])


def nearest_indices(frames: ByteArray, palette: ByteArray, dither: str) -> npt.NDArray[np.uint8]:
    """Each pixel's palette index, frame by frame, before temporal stabilisation."""
    n, h, w, _ = frames.shape
    if dither == "floyd":
        pal_image = _palette_image(palette)
        raw = np.stack([_floyd(f, pal_image) for f in frames])
        return np.minimum(raw, len(palette) - 1)
    source = frames
    if dither == "bayer":
        shifted = frames.astype(np.float32) + _bayer_offsets(h, w, palette)
        source = np.clip(shifted + 0.5, 0, 255).astype(np.uint8)
    return NearestColor(palette)(source.reshape(-1, 3)).reshape(n, h, w)


def _floyd_stable(frames: ByteArray, palette: ByteArray) -> npt.NDArray[np.uint8]:
    out = nearest_indices(frames, palette, "floyd")
    anchor = frames[0].copy()
    for i in range(1, len(frames)):
        frame = frames[i]
        hold = _abs_diff_max(frame, anchor) <= STABLE_LEVELS
        np.copyto(out[i], out[i - 1], where=hold)
        np.copyto(anchor, frame, where=~hold[..., None])
    return out


def map_frames(
    frames: ByteArray, palette: ByteArray, dither: str, *, overwrite: bool = False
) -> npt.NDArray[np.uint8]:
    """N×H×W×3 uint8 frames to N×H×W palette indices, stable over time.

    A pixel keeps its previous index while no channel of its source moved by more than
    STABLE_LEVELS since that index was chosen. For ``none`` and ``bayer`` the index is a
    function of the pixel's anchored value (and position), so the frames are anchored first
    (:func:`hold_still_pixels`) and then all mapped at once. ``overwrite=True`` lets the
    anchoring happen in ``frames`` itself instead of a copy.
    """
    check_dither(dither)
    if dither == "floyd":
        return _floyd_stable(frames, palette)
    anchored = frames if overwrite else frames.copy()
    hold_still_pixels(anchored)
    return nearest_indices(anchored, palette, dither)
