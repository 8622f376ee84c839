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
# Below this many pixel×colour distance evaluations, map exactly; above, through a LUT.
EXACT_LIMIT = 16_000_000
LUT_BITS = 6
_CHUNK = 1 << 16

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
        raise MediaError(
            INVALID_OPTIONS, f"dither must be one of {', '.join(DITHERS)}, not {dither!r}"
        )


class NearestColor:
    """Nearest palette colour (squared RGB distance) for many pixels."""

    def __init__(self, palette: ByteArray, pixel_count: int) -> None:
        self.palette = palette.astype(np.float32)
        self.norms = (self.palette * self.palette).sum(axis=1)
        self.lut: npt.NDArray[np.uint8] | None = None
        if pixel_count * len(palette) > EXACT_LIMIT:
            self.lut = self._build_lut()

    def _exact(self, pixels: FloatArray) -> npt.NDArray[np.uint8]:
        out = np.empty(len(pixels), dtype=np.uint8)
        for start in range(0, len(pixels), _CHUNK):
            part = pixels[start : start + _CHUNK]
            score = self.norms[None, :] - 2.0 * (part @ self.palette.T)
            out[start : start + _CHUNK] = score.argmin(axis=1)
        return out

    def _build_lut(self) -> npt.NDArray[np.uint8]:
        levels = (np.arange(1 << LUT_BITS, dtype=np.float32) + 0.5) * (1 << (8 - LUT_BITS))
        grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1)
        return self._exact(grid.reshape(-1, 3))

    def __call__(self, pixels: FloatArray) -> npt.NDArray[np.uint8]:
        """``pixels``: n×3 float RGB. Returns n palette indices."""
        if self.lut is None:
            return self._exact(pixels)
        shift = 8 - LUT_BITS
        q = np.clip(pixels, 0, 255).astype(np.int32) >> shift
        keys = (q[:, 0] << (2 * LUT_BITS)) | (q[:, 1] << LUT_BITS) | q[:, 2]
        return self.lut[keys]


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
    return offsets[..., None].astype(np.float32)


def _floyd(frame: ByteArray, palette_image: Image.Image) -> npt.NDArray[np.uint8]:
    image = Image.fromarray(frame, "RGB")
    mapped = image.quantize(palette=palette_image, dither=Image.Dither.FLOYDSTEINBERG)
    return np.asarray(mapped, dtype=np.uint8)


def _palette_image(palette: ByteArray) -> Image.Image:
    image = Image.new("P", (1, 1))
    image.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
    return image


def map_frames(frames: ByteArray, palette: ByteArray, dither: str) -> npt.NDArray[np.uint8]:
    """N×H×W×3 uint8 frames to N×H×W palette indices, stable over time."""
    check_dither(dither)
    n, h, w, _ = frames.shape
    if dither == "floyd":
        pal_image = _palette_image(palette)
        raw = np.stack([_floyd(f, pal_image) for f in frames])
        raw = np.minimum(raw, len(palette) - 1)
    else:
        nearest = NearestColor(palette, n * h * w)
        offsets = _bayer_offsets(h, w, palette) if dither == "bayer" else None
        raw = np.empty((n, h, w), dtype=np.uint8)
        for i in range(n):
            src = frames[i].astype(np.float32)
            if offsets is not None:
                src += offsets
            raw[i] = nearest(src.reshape(-1, 3)).reshape(h, w)
    return stabilize(frames, raw)


def stabilize(frames: ByteArray, indices: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    """Keep each pixel's previous index while its source stays within STABLE_LEVELS of the
    source it had when that index was chosen."""
    out = indices.copy()
    anchor = frames[0].astype(np.int16)
    for i in range(1, len(frames)):
        src = frames[i].astype(np.int16)
        hold = np.abs(src - anchor).max(axis=-1) <= STABLE_LEVELS
        out[i][hold] = out[i - 1][hold]
        anchor[~hold] = src[~hold]
    return out
