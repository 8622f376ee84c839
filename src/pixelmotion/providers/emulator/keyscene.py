"""The emulator's key-colour clip: one subject on a plain flat key colour, static camera.

Asked for a plain key-colour background (see :func:`key_colour_of`), the emulator renders
what a real video model gives for such a prompt, imperfections included, so that the keying
is tested against the problems it meets in production:

- ``gradient``: the "flat" colour drifts by ±20 levels across the frame (a diagonal ramp);
- ``noise``: sensor-like grain, different in every frame (σ ≈ 4 levels in luma and chroma);
- ``shadow``: a soft contact shadow on the ground under the subject (up to 45 % darker);
- ``near_key``: the subject's body is close to the key colour (about 64 levels off per
  channel, e.g. a pale green on green).

The subject walks in place with a known period (:data:`PERIOD_FRAMES` frames), and
:func:`true_matte` gives the exact subject mask of any frame, so tests can score a matte.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Image = npt.NDArray[np.uint8]
Colour = tuple[int, int, int]

IMPERFECTIONS = ("gradient", "noise", "shadow", "near_key")
DEFAULT_KEY: Colour = (0, 255, 0)
# The walk cycle repeats every PERIOD_FRAMES frames of the clip (0.83 s at 24 fps).
PERIOD_FRAMES = 20
GRADIENT_LEVELS = 20
NOISE_SIGMA = 4.0
SHADOW_DEPTH = 0.45
_NOISE_VARIANTS = 7  # prime, so the noise never repeats with the walk period

_HEX_BACKGROUND = re.compile(r"#([0-9a-fA-F]{6})\)?\s+background|background[^.#]{0,40}#([0-9a-fA-F]{6})")
_GREEN_WORDS = re.compile(r"green[ -]?screen|chroma[ -]?key", re.IGNORECASE)


def key_colour_of(prompt: str) -> Colour | None:
    """The key colour a prompt asks for, or None for an ordinary scene.

    A prompt asks for one when it names a ``#rrggbb`` colour next to the word "background"
    ("on a plain flat green (#00ff00) background") or says "green screen" / "chroma key"
    (then ``#00ff00``). Luma's ``concepts`` do not change the picture: the emulator's camera
    is static anyway.
    """
    match = _HEX_BACKGROUND.search(prompt)
    if match:
        digits = match.group(1) or match.group(2)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    if _GREEN_WORDS.search(prompt):
        return DEFAULT_KEY
    return None


@dataclass(frozen=True)
class KeyScene:
    width: int
    height: int
    fps: int
    key: Colour
    imperfections: frozenset[str]

    @property
    def size(self) -> float:
        return 0.25 * min(self.width, self.height)

    @property
    def centre_x(self) -> float:
        return self.width / 2

    @property
    def feet_y(self) -> float:
        return 0.84 * self.height

    def body_colour(self) -> Colour:
        if "near_key" in self.imperfections:
            # A quarter of the way to the complement: ~64 levels off on each channel.
            return tuple(round(0.75 * c + 0.25 * (255 - c)) for c in self.key)  # type: ignore[return-value]
        return (235, 120, 40) if self.key[1] > 128 else (240, 220, 60)


def background_rgb(scene: KeyScene) -> Image:
    """The static background: the key colour, its gradient and the shadow, H×W×3."""
    h, w = scene.height, scene.width
    plane = np.empty((h, w, 3), dtype=np.float32)
    plane[:] = np.array(scene.key, dtype=np.float32)
    ys = np.arange(h, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(w, dtype=np.float32)[None, :] + 0.5
    if "gradient" in scene.imperfections:
        ramp = (xs / w + ys / h) - 1.0  # -1 at the top left, +1 at the bottom right
        plane += (GRADIENT_LEVELS * ramp)[..., None]
    if "shadow" in scene.imperfections:
        rx, ry = 1.2 * scene.size, 0.22 * scene.size
        field = np.exp(-(((xs - scene.centre_x) / rx) ** 2) - ((ys - scene.feet_y) / ry) ** 2)
        plane *= (1.0 - SHADOW_DEPTH * field)[..., None]
    return np.clip(np.rint(plane), 0, 255).astype(np.uint8)


def noise_fields(scene: KeyScene, shape: tuple[int, int]) -> list[npt.NDArray[np.int16]] | None:
    """A few grain fields over a packed yuv420p frame, one picked per frame."""
    if "noise" not in scene.imperfections:
        return None
    rng = np.random.default_rng(12345)
    return [
        np.rint(rng.normal(0.0, NOISE_SIGMA, size=shape)).astype(np.int16) for _ in range(_NOISE_VARIANTS)
    ]


def add_noise(packed: Image, fields: list[npt.NDArray[np.int16]] | None, index: int) -> Image:
    if fields is None:
        return packed
    noisy = packed.astype(np.int16) + fields[(index * 3) % len(fields)]
    return np.asarray(np.clip(noisy, 0, 255), dtype=np.uint8)


@dataclass(frozen=True)
class Pose:
    centre_x: float
    body_y: float
    feet_y: float
    stride: float


def pose(scene: KeyScene, index: int) -> Pose:
    """The walker's pose in frame ``index``: exactly periodic in PERIOD_FRAMES."""
    stride = math.sin(2 * math.pi * index / PERIOD_FRAMES)
    size = scene.size
    body_y = scene.feet_y - size * 1.25 - abs(stride) * size * 0.12
    return Pose(scene.centre_x, body_y, scene.feet_y, stride)


def shapes(scene: KeyScene, index: int) -> list[tuple[str, tuple[float, ...], Colour]]:
    """The subject of frame ``index`` as primitives, in painting order.

    ``("box", (left, top, right, bottom), colour)``, ``("ellipse", (cx, cy, rx, ry), colour)``.
    """
    p = pose(scene, index)
    size = scene.size
    body = scene.body_colour()
    legs: Colour = (body[0] * 3 // 5, body[1] * 3 // 5, body[2] * 3 // 5)
    out: list[tuple[str, tuple[float, ...], Colour]] = []
    for side in (-1, 1):
        foot_x = p.centre_x + side * size * 0.35 + p.stride * side * size * 0.3
        out.append(("box", (foot_x - size * 0.14, p.body_y, foot_x + size * 0.14, p.feet_y), legs))
    out.append(("ellipse", (p.centre_x, p.body_y, size * 0.8, size * 0.7), body))
    for eye in (0.05, 0.4):
        eye_x = p.centre_x + size * eye
        out.append(("ellipse", (eye_x, p.body_y - size * 0.2, size * 0.16, size * 0.16), (255, 255, 255)))
        pupil = (eye_x + size * 0.05, p.body_y - size * 0.2, size * 0.08, size * 0.08)
        out.append(("ellipse", pupil, (20, 20, 30)))
    return out


def true_matte(scene: KeyScene, index: int) -> npt.NDArray[np.bool_]:
    """The exact H×W subject mask of frame ``index`` (pixel centres inside a shape)."""
    h, w = scene.height, scene.width
    mask = np.zeros((h, w), dtype=bool)
    ys = np.arange(h, dtype=np.float64)[:, None] + 0.5
    xs = np.arange(w, dtype=np.float64)[None, :] + 0.5
    for kind, box, _ in shapes(scene, index):
        if kind == "box":
            # The same whole pixels the renderer's box fill covers.
            left, top, right, bottom = box
            cols = (xs >= math.floor(left)) & (xs < math.ceil(right))
            rows = (ys >= math.floor(top)) & (ys < math.ceil(bottom))
            mask |= cols & rows
        else:
            cx, cy, rx, ry = box
            mask |= ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
    return mask
