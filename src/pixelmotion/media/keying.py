"""Background removal for key-colour footage: a hard, stable matte for pixel art.

The pipeline asks the decoder for *working* pictures ``factor`` times the output size on each
side (area-averaged by swscale, as the colour always is), and :class:`Keyer` turns each one
into an output picture with a hard alpha:

1. The key colour. Given (``key_color``) or estimated from the clip: the border pixels of the
   first frames, their densest colour cell (a robust mode, so a subject touching the border,
   a shadow or a gradient does not move it), then the median of the samples near that cell.
2. A background model per frame: a bilinear surface (``a + b·x + c·y + d·x·y`` per channel)
   fitted by least squares to that frame's border pixels near the key colour. It follows a
   gradient across the frame and a change of lighting over time.
3. A soft matte at working resolution: the distance of each pixel to the local background
   *after the best brightness scale* (``|c - s·B|`` with ``s`` in [0.35, 1.3]), so a shadow
   or a darker patch of the key colour (same hue, less light) stays background while a
   subject colour of another hue, even a close one, does not. A linear ramp between two
   thresholds (from the noise measured on the border) gives the soft alpha.
4. Spill removed by unmixing: a pixel with soft alpha ``a`` is ``a·F + (1-a)·B``; its subject
   colour ``F = (c - (1-a)·B) / a``. Each output pixel's colour is the alpha-weighted mean of
   the ``F`` of its working pixels, so no key colour bleeds into the edge.
5. The area average of the soft alpha over each output pixel, made hard at 0.5 (pixel art
   has no half-transparent pixels), with hysteresis over time (:class:`MatteHold`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from pixelmotion.jobs.options import BACKGROUNDS

from .errors import INVALID_OPTIONS, MediaError
from .palettes import parse_color

ByteArray = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]
Colour = tuple[int, int, int]

# Working pictures are at most this many pixels (the factor is lowered to fit) and the
# factor at most MAX_FACTOR: 6×6 samples per output pixel put the area-averaged alpha within
# 1/36 of the true coverage, and a 384×384 or 512×512 picture keys in a few milliseconds.
MAX_WORKING_PIXELS = 1 << 18
MAX_FACTOR = 6
# Frames whose border pixels estimate the key colour.
ESTIMATE_FRAMES = 12
BORDER_SHARE = 0.04
# A border pixel takes part in the background fit when no channel is further than this
# from the key colour (the ±20 gradient plus noise fits; a shadow or the subject does not).
INLIER_LEVELS = 48
# A given key colour is matched to the clip's background within this many levels.
GIVEN_KEY_LEVELS = 96
# Border pixels looked at per frame (evenly strided) for the background fit.
BORDER_SAMPLES = 8000
MIN_INLIER_SHARE = 0.05
# Brightness scale range of the background model: shadows down to 35 % of the key's light.
MIN_SCALE, MAX_SCALE = 0.35, 1.3
# Soft ramp: alpha 0 below RAMP_START levels of distance, 1 at RAMP_START + RAMP_WIDTH. The
# start rises with the noise measured on the border (RAMP_NOISE × its 99th percentile).
RAMP_START, RAMP_WIDTH, RAMP_NOISE = 16.0, 28.0, 1.25
MAX_RAMP_START = 40.0
# How far (working pixels) an edge pixel looks for the fully covered subject pixel whose
# distance sets its alpha: the blur of a decoded edge (chroma at half resolution).
EDGE_RADIUS = 1
ERODE_SHARE = 0.25
# Hysteresis: a pixel's alpha flips only when its averaged alpha leaves the band around
# 0.5, or when it moved by more than HOLD_MOVE since the pixel last took its value.
HOLD_BAND = 0.15
HOLD_MOVE = 0.2
_MIN_WEIGHT = 0.05


def check_background(background: str, key_color: str | None) -> Colour | None:
    """Validate the options; return the given key colour as RGB (None: estimate it)."""
    if background not in BACKGROUNDS:
        raise MediaError(
            INVALID_OPTIONS, f"background must be one of {', '.join(BACKGROUNDS)}, not {background!r}"
        )
    if key_color is None:
        return None
    if background != "remove":
        raise MediaError(INVALID_OPTIONS, "key_color needs background 'remove'")
    return parse_color(key_color)


def working_factor(crop_w: float, crop_h: float, out_w: int, out_h: int) -> int:
    """Samples per output pixel on each side: as many as the source has, within the limits."""
    by_source = int(min(crop_w / out_w, crop_h / out_h))
    by_budget = int((MAX_WORKING_PIXELS / (out_w * out_h)) ** 0.5)
    return max(1, min(MAX_FACTOR, by_source, by_budget))


def _border_mask(h: int, w: int) -> BoolArray:
    ring = max(2, round(BORDER_SHARE * min(h, w)))
    mask = np.zeros((h, w), dtype=bool)
    mask[:ring], mask[-ring:], mask[:, :ring], mask[:, -ring:] = True, True, True, True
    return mask


def estimate_key(frames: list[ByteArray]) -> Colour:
    """The key colour of H×W×4 working frames (fourth byte 0 on letterbox padding): the
    median of the border samples near their densest 16-level colour cell."""
    samples = np.concatenate([_border_samples(f) for f in frames])
    if len(samples) == 0:
        raise MediaError(INVALID_OPTIONS, "no border pixels to estimate the key colour from")
    cells = (samples >> 4).astype(np.int32)
    keys = (cells[:, 0] << 8) | (cells[:, 1] << 4) | cells[:, 2]
    top = int(np.argmax(np.bincount(keys, minlength=4096)))
    centre = np.array([(top >> 8) * 16 + 8, ((top >> 4) & 15) * 16 + 8, (top & 15) * 16 + 8])
    near = samples[np.abs(samples.astype(np.int32) - centre).max(axis=1) <= 24]
    median = np.median(near, axis=0)
    return (int(median[0]), int(median[1]), int(median[2]))


def refine_key(frames: list[ByteArray], given: Colour) -> Colour:
    """A given key colour moved to the median of the border samples near it: footage shot
    on "#00ff00" is rarely exactly that green. Unchanged when few samples are near."""
    samples = np.concatenate([_border_samples(f) for f in frames])
    near = samples[np.abs(samples.astype(np.int32) - np.array(given)).max(axis=1) <= GIVEN_KEY_LEVELS]
    if len(near) < MIN_INLIER_SHARE * max(1, len(samples)):
        return given
    median = np.median(near, axis=0)
    return (int(median[0]), int(median[1]), int(median[2]))


def _border_samples(frame: ByteArray) -> ByteArray:
    mask = _border_mask(*frame.shape[:2]) & (frame[..., 3] > 0)
    return np.ascontiguousarray(frame[mask][:, :3])


@dataclass
class BackgroundModel:
    """Per-channel bilinear surface over a working picture (coordinates in [0, 1])."""

    coefficients: FloatArray  # 4×3: constant, x, y, x·y

    @classmethod
    def flat(cls, key: Colour) -> BackgroundModel:
        coefficients = np.zeros((4, 3), dtype=np.float32)
        coefficients[0] = key
        return cls(coefficients)

    def planes(self, h: int, w: int) -> FloatArray:
        """H×W×3 background colours."""
        xs = (np.arange(w, dtype=np.float32) + 0.5) / w
        ys = (np.arange(h, dtype=np.float32) + 0.5) / h
        a, b, c, d = self.coefficients
        along_x = a[None, :] + xs[:, None] * b[None, :]  # W×3
        slope_y = c[None, :] + xs[:, None] * d[None, :]  # W×3
        return np.asarray(along_x[None] + ys[:, None, None] * slope_y[None], dtype=np.float32)


@dataclass
class Keyer:
    """Keys the working frames of one clip, in order (see the module docstring)."""

    factor: int
    key: Colour | None = None
    ramp_start: float = RAMP_START
    model: BackgroundModel | None = None
    hold: MatteHold = field(default_factory=lambda: MatteHold())
    _border: tuple[tuple[int, ...], IndexArray, IndexArray] | None = None

    def prepare(self, frames: list[ByteArray]) -> None:
        """Estimate the key colour (unless given) and the noise from the first frames."""
        if self.key is None:
            self.key = estimate_key(frames[:ESTIMATE_FRAMES])
        else:
            self.key = refine_key(frames[:ESTIMATE_FRAMES], self.key)
        distances = []
        for frame in frames[:ESTIMATE_FRAMES]:
            model = self._fit(frame)
            if model is not None:
                ys, xs = self._inliers(frame)
                pixels = frame[ys, xs, :3].astype(np.float32)
                background = model.planes(*frame.shape[:2])[ys, xs]
                distances.append(_distance(pixels, background))
        if distances:
            noise = float(np.percentile(np.concatenate(distances), 99))
            self.ramp_start = float(np.clip(RAMP_NOISE * noise, RAMP_START, MAX_RAMP_START))

    def _inliers(self, frame: ByteArray) -> tuple[IndexArray, IndexArray]:
        """(rows, columns) of the border pixels near the key colour (a strided sample)."""
        assert self.key is not None
        shape = frame.shape[:2]
        if self._border is None or self._border[0] != shape:
            ys, xs = np.nonzero(_border_mask(*shape))
            step = max(1, len(xs) // BORDER_SAMPLES)
            self._border = (shape, ys[::step], xs[::step])
        _, ys, xs = self._border
        samples = frame[ys, xs].astype(np.int16)
        near = np.abs(samples[:, :3] - np.array(self.key, dtype=np.int16)).max(axis=1)
        keep = (near <= INLIER_LEVELS) & (samples[:, 3] > 0)
        return ys[keep], xs[keep]

    def _fit(self, frame: ByteArray) -> BackgroundModel | None:
        h, w = frame.shape[:2]
        ys, xs = self._inliers(frame)
        assert self._border is not None
        if len(xs) < MIN_INLIER_SHARE * len(self._border[1]):
            return None
        x = (xs.astype(np.float32) + 0.5) / w
        y = (ys.astype(np.float32) + 0.5) / h
        design = np.stack([np.ones_like(x), x, y, x * y], axis=1)
        values = frame[ys, xs, :3].astype(np.float32)
        solution, *_ = np.linalg.lstsq(design, values, rcond=None)
        return BackgroundModel(np.asarray(solution, dtype=np.float32))

    def __call__(self, frame: ByteArray) -> ByteArray:
        """One H·f×W·f×4 working frame to an H×W×4 output picture (RGB, alpha 0 or 255)."""
        assert self.key is not None, "prepare() first"
        model = self._fit(frame) or self.model or BackgroundModel.flat(self.key)
        self.model = model
        colour, alpha = self.soft(frame, model)
        out = np.zeros((*alpha.shape, 4), dtype=np.uint8)
        opaque = self.hold(alpha)
        out[..., :3] = colour
        out[..., :3][~opaque] = 0
        out[..., 3] = opaque * np.uint8(255)
        return out

    def soft(self, frame: ByteArray, model: BackgroundModel) -> tuple[ByteArray, FloatArray]:
        """(H×W×3 despilled colour, H×W area-averaged soft alpha) of one working frame."""
        h, w = frame.shape[:2]
        pixels = frame[..., :3].astype(np.float32)
        background = model.planes(h, w)
        distance = _distance(pixels.reshape(-1, 3), background.reshape(-1, 3)).reshape(h, w)
        alpha = _coverage(distance, self.ramp_start)
        alpha[frame[..., 3] == 0] = 0.0  # letterbox padding is not subject
        # Unmix: F = (c - (1 - a)·B) / a.
        subject = pixels - (1.0 - alpha)[..., None] * background
        subject /= np.maximum(alpha, _MIN_WEIGHT)[..., None]
        np.clip(subject, 0.0, 255.0, out=subject)
        # Weighted by a⁸: the fully covered samples of an output pixel give its colour; the
        # partly covered ones (where the unmixing is least sure) only when there is none.
        weight = alpha * alpha
        weight *= weight
        weight *= weight
        subject *= weight[..., None]
        f = self.factor
        mass = _block_sum(weight[..., None], f)[..., 0]
        sums = _block_sum(subject, f)
        mean = sums / np.maximum(mass, 1e-12)[..., None]
        colour = np.asarray(np.clip(np.rint(mean), 0, 255), dtype=np.uint8)
        coverage = _block_sum(alpha[..., None], f)[..., 0] / (f * f)
        return colour, np.asarray(coverage, dtype=np.float32)


def _block_sum(values: FloatArray, f: int) -> FloatArray:
    """Sums over f×f blocks of an H×W×C array (rows first: long contiguous additions)."""
    h, w, c = values.shape
    rows = values.reshape(h // f, f, w * c).sum(axis=1)
    return np.asarray(rows.reshape(h // f, w // f, f, c).sum(axis=2), dtype=np.float32)


def _local_max(values: FloatArray, radius: int) -> FloatArray:
    """Maximum over a (2·radius + 1)² window (separable; edges use the part inside)."""
    out = values.copy()
    for axis in (0, 1):
        source = out.copy()
        for shift in range(1, radius + 1):
            ahead = [slice(None)] * 2
            behind = [slice(None)] * 2
            ahead[axis], behind[axis] = slice(shift, None), slice(None, -shift)
            np.maximum(out[tuple(behind)], source[tuple(ahead)], out=out[tuple(behind)])
            np.maximum(out[tuple(ahead)], source[tuple(behind)], out=out[tuple(ahead)])
    return out


def _coverage(distance: FloatArray, floor: float) -> FloatArray:
    """Soft alpha: a pixel mixing subject colour F with background B by ``a`` lies about
    ``a·d(F)`` from the background, so ``a = d / d(F)``, with ``d(F)`` the largest distance
    nearby (the closest fully covered subject pixel). Below ``floor`` (the noise) it is 0."""
    alpha = np.clip((distance - floor) / RAMP_WIDTH, 0.0, 1.0)
    # Chroma is stored at half resolution: the subject's colour reaches up to a source pixel
    # past its edge. One pixel of erosion takes that back.
    eroded = -_local_max(-alpha, EDGE_RADIUS)
    return np.asarray(ERODE_SHARE * eroded + (1.0 - ERODE_SHARE) * alpha, dtype=np.float32)


def _distance(pixels: FloatArray, background: FloatArray) -> FloatArray:
    """n×3 against n×3 RGB: distance to the background after the best brightness scale.

    RGB, not a chroma-led space: there a desaturated key colour (a pale green subject on
    green) is a scaled key colour too, i.e. would pass for a shadow.
    """
    dot = (pixels * background).sum(axis=1)
    norm = np.maximum((background * background).sum(axis=1), 1.0)
    scale = np.clip(dot / norm, MIN_SCALE, MAX_SCALE)
    residual = pixels - scale[:, None] * background
    return np.asarray(np.sqrt((residual * residual).sum(axis=1)), dtype=np.float32)


@dataclass
class MatteHold:
    """Hard alpha with hysteresis: stable while the source holds still.

    A pixel takes ``alpha >= 0.5`` when its averaged alpha is outside ``0.5 ± HOLD_BAND`` or
    has moved by more than ``HOLD_MOVE`` since the pixel last took its value; otherwise it
    keeps its previous value (no edge pixel blinking on noise).
    """

    state: BoolArray | None = None
    anchor: FloatArray | None = None

    def __call__(self, alpha: FloatArray) -> BoolArray:
        fresh = alpha >= 0.5
        if self.state is None or self.anchor is None or self.state.shape != alpha.shape:
            self.state, self.anchor = fresh, alpha.copy()
            return fresh.copy()
        decided = (np.abs(alpha - 0.5) > HOLD_BAND) | (np.abs(alpha - self.anchor) > HOLD_MOVE)
        np.copyto(self.state, fresh, where=decided)
        np.copyto(self.anchor, alpha, where=decided)
        return self.state.copy()
