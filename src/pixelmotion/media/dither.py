"""Map RGB frames to palette indices: nearest colour, ordered (Bayer) or Floyd–Steinberg
dithering, and temporal stability (a pixel keeps its index while its source holds still).

Frames are best given as N×H×W×4 uint8 (RGB and a byte that is ignored): each pixel is then
one 32-bit word, and both the stability test and the lookup-table keys are a few integer
operations per pixel over whole frames. N×H×W×3 frames are accepted too (copied once).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from PIL import Image

from pixelmotion.jobs.options import DITHERS

from .errors import INVALID_OPTIONS, MediaError

ByteArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]
WordArray = npt.NDArray[np.uint32]
BoolArray = npt.NDArray[np.bool_]

# A pixel keeps its previous index while no channel of its source moved by more than this
# many levels since the index was chosen: no flicker on still or slowly drifting areas.
STABLE_LEVELS = 4
# Up to this many pixel×colour distance evaluations, map exactly; above, through a LUT
# (measured: the LUT's fixed cost pays off from about 2 million).
EXACT_LIMIT = 2_000_000
LUT_BITS = 7
_CHUNK = 1 << 13
_KEY_CHUNK = 1 << 18
# OpenBLAS runs a product on the caller's thread below m·n·k = 262 144 (see
# quantize.single_thread_matmul).
_BLAS_THREAD_THRESHOLD = 262_143
# Per byte of a 32-bit pixel (R, G, B, ignored): adding _OVER to (d & 0x7F) sets bit 7 of
# that byte exactly when d & 0x7F > STABLE_LEVELS, without a carry into the next byte.
_RGB_LOW7 = 0x007F7F7F
_OVER = 0x00010101 * (0x80 - (STABLE_LEVELS + 1))
_RGB_TOP = 0x00808080

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
        colors = palette.astype(np.float32)
        # score(p, c) = |c|² - 2 p·c, as one product: [r, g, b, 1] @ [-2 cᵀ; |c|²].
        self.weights = np.concatenate([-2.0 * colors.T, (colors * colors).sum(axis=1)[None, :]])
        self.size = len(palette)

    def exact(self, pixels: npt.NDArray[np.generic]) -> ByteArray:
        """Exact nearest colour of n×3 pixels (any numeric type)."""
        out = np.empty(len(pixels), dtype=np.uint8)
        # Blocks small enough for OpenBLAS to stay on this thread.
        block = max(16, min(_CHUNK, _BLAS_THREAD_THRESHOLD // (4 * self.size)))
        rows = np.ones((min(len(pixels), block), 4), dtype=np.float32)
        for start in range(0, len(pixels), block):
            chunk = pixels[start : start + block]
            part = rows[: len(chunk)]
            part[:, :3] = chunk
            np.argmin(part @ self.weights, axis=1, out=out[start : start + block])
        return out

    def __call__(self, pixels: ByteArray) -> ByteArray:
        """``pixels``: n×3 (or n×4, fourth byte ignored) uint8 RGB. Returns n indices."""
        if len(pixels) * self.size <= EXACT_LIMIT:
            return self.exact(pixels[:, :3])
        return self.packed(pack(pixels))

    def packed(self, words: WordArray) -> ByteArray:
        """Indices for pixels packed as little-endian 32-bit words (R in the low byte)."""
        flat = words.reshape(-1)
        if len(flat) * self.size <= EXACT_LIMIT:
            return self.exact(unpack(flat)).reshape(words.shape)
        shift = 8 - LUT_BITS
        mask = (1 << LUT_BITS) - 1
        keys = np.empty(len(flat), dtype=np.uint32)
        seen = np.zeros(1 << (3 * LUT_BITS), dtype=bool)
        scratch = np.empty(min(len(flat), _KEY_CHUNK), dtype=np.uint32)
        # key = R7 | G7 << 7 | B7 << 14, in chunks that keep the temporaries in cache.
        for start in range(0, len(flat), _KEY_CHUNK):
            part = flat[start : start + _KEY_CHUNK]
            key = keys[start : start + _KEY_CHUNK]
            tmp = scratch[: len(part)]
            np.right_shift(part, shift, out=key)
            key &= mask
            for channel in (1, 2):
                np.right_shift(part, shift * (channel + 1), out=tmp)
                tmp &= mask << (channel * LUT_BITS)
                key |= tmp
            seen[key] = True
        used = np.flatnonzero(seen)
        cells = np.stack([used & mask, (used >> LUT_BITS) & mask, used >> (2 * LUT_BITS)], 1)
        centres = cells.astype(np.float32) * (1 << shift) + ((1 << shift) - 1) / 2
        lut = np.zeros(1 << (3 * LUT_BITS), dtype=np.uint8)
        lut[used] = self.exact(centres)
        out = np.empty(len(flat), dtype=np.uint8)
        for start in range(0, len(flat), _KEY_CHUNK):
            np.take(lut, keys[start : start + _KEY_CHUNK], out=out[start : start + _KEY_CHUNK])
        return out.reshape(words.shape)


def pack(pixels: ByteArray) -> WordArray:
    """n×3 or n×4 uint8 pixels as n little-endian 32-bit words (R in the low byte)."""
    words = np.zeros(len(pixels), dtype=np.uint32)
    words.view(np.uint8).reshape(-1, 4)[:, :3] = pixels[:, :3]
    return words


def unpack(words: WordArray) -> ByteArray:
    """n 32-bit words back to n×3 uint8 RGB."""
    return np.ascontiguousarray(words).view(np.uint8).reshape(-1, 4)[:, :3]


def as_rgbx(frames: ByteArray) -> ByteArray:
    """…×3 or …×4 uint8 frames as a new C-contiguous …×4 array (fourth byte 0)."""
    out = np.zeros((*frames.shape[:-1], 4), dtype=np.uint8)
    out[..., :3] = frames[..., :3]
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


def _floyd(frame: ByteArray, palette_image: Image.Image) -> ByteArray:
    image = Image.fromarray(frame, "RGB")
    mapped = image.quantize(palette=palette_image, dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(mapped, dtype=np.uint8)


def _palette_image(palette: ByteArray) -> Image.Image:
    image = Image.new("P", (1, 1))
    image.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
    return image


def _words(frames: ByteArray) -> WordArray:
    """…×4 uint8 frames (C-contiguous) viewed as 32-bit words, one per pixel."""
    return frames.view(np.uint32)[..., 0]


def _moved(frame: ByteArray, previous: ByteArray) -> BoolArray:
    """H×W: True where a colour channel of two H×W×4 pictures differs by more than
    STABLE_LEVELS (the fourth byte is ignored)."""
    diff = np.maximum(frame, previous)
    diff -= np.minimum(frame, previous)
    d = _words(diff)
    test = d & _RGB_LOW7
    test += _OVER
    test |= d
    test &= _RGB_TOP
    return test.astype(bool)


def hold_still_pixels(frames: ByteArray) -> BoolArray:
    """In place, N×H×W×4 uint8 frames (C-contiguous): a pixel keeps the value it had in the
    previous frame while no colour channel of its source moved by more than STABLE_LEVELS
    since that value was taken (its anchor).

    Returns the N×H×W mask of pixels that took a new value (all of the first frame).
    """
    words = _words(frames)
    moved = np.ones(words.shape, dtype=bool)
    for i in range(1, len(frames)):
        np.copyto(moved[i], _moved(frames[i], frames[i - 1]))
        np.copyto(words[i], words[i - 1], where=~moved[i])
    return moved


def _map_moved(frames: ByteArray, moved: BoolArray, palette: ByteArray) -> ByteArray:
    """Indices of anchored N×H×W×4 frames: only the pixels that took a new value are looked
    up; the others repeat the previous frame's index (their value did not change)."""
    words = _words(frames)
    out = np.empty(words.shape, dtype=np.uint8)
    out[moved] = NearestColor(palette).packed(words[moved])
    for i in range(1, len(out)):
        np.copyto(out[i], out[i - 1], where=~moved[i])
    return out


def _abs_diff_max(a: ByteArray, b: ByteArray) -> ByteArray:
    """Per pixel, the largest channel difference of two H×W×3 uint8 pictures."""
    diff = np.maximum(a, b)
    diff -= np.minimum(a, b)
    return np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2])


def nearest_indices(frames: ByteArray, palette: ByteArray, dither: str) -> ByteArray:
    """Each pixel's palette index, frame by frame, before temporal stabilisation.

    ``frames``: N×H×W×3, or N×H×W×4 (fourth byte ignored).
    """
    n, h, w, channels = frames.shape
    if dither == "floyd":
        pal_image = _palette_image(palette)
        raw = np.stack([_floyd(np.ascontiguousarray(f[..., :3]), pal_image) for f in frames])
        return np.minimum(raw, len(palette) - 1)
    nearest = NearestColor(palette)
    if dither == "bayer":
        shifted = frames[..., :3].astype(np.float32) + _bayer_offsets(h, w, palette)
        source = np.clip(shifted + 0.5, 0, 255).astype(np.uint8)
        return nearest(source.reshape(-1, 3)).reshape(n, h, w)
    if channels == 4 and frames.flags.c_contiguous:
        return nearest.packed(_words(frames))
    return nearest(frames.reshape(-1, channels)).reshape(n, h, w)


def _floyd_stable(frames: ByteArray, palette: ByteArray) -> ByteArray:
    out = nearest_indices(frames, palette, "floyd")
    anchor = np.ascontiguousarray(frames[0, ..., :3])
    for i in range(1, len(frames)):
        frame = frames[i, ..., :3]
        hold = _abs_diff_max(frame, anchor) <= STABLE_LEVELS
        np.copyto(out[i], out[i - 1], where=hold)
        np.copyto(anchor, frame, where=~hold[..., None])
    return out


def map_frames(frames: ByteArray, palette: ByteArray, dither: str, *, overwrite: bool = False) -> ByteArray:
    """N×H×W×3 (or ×4, fourth byte ignored) uint8 frames to N×H×W palette indices, stable
    over time.

    A pixel keeps its previous index while no channel of its source moved by more than
    STABLE_LEVELS since that index was chosen. For ``none`` and ``bayer`` the index is a
    function of the pixel's anchored value (and position), so the frames are anchored first
    (:func:`hold_still_pixels`) and only the pixels that took a new value are looked up.
    ``overwrite=True`` lets the anchoring happen in ``frames`` itself when it is a
    C-contiguous N×H×W×4 array (saves a copy).
    """
    check_dither(dither)
    if dither == "floyd":
        return _floyd_stable(frames, palette)
    in_place = overwrite and frames.shape[-1] == 4 and frames.flags.c_contiguous
    anchored = frames if in_place else as_rgbx(frames)
    moved = hold_still_pixels(anchored)
    if dither == "none":
        return _map_moved(anchored, moved, palette)
    return nearest_indices(anchored, palette, dither)
