"""Render a short, real H.264 clip from a prompt: the emulator's stand-in for the model.

The clip is deterministic per prompt (every random choice comes from a hash of the prompt)
and made to pixelate well: a gradient sky, a striped ground that scrolls, bold shapes that
bounce and spin, and a blob character walking across. Hard edges, flat colours.

Speed matters (a 1280x720, 5 s clip should take well under 3 s): each frame starts from a
precomputed background and shapes are painted only inside their bounding boxes, so a frame
costs a few vectorised numpy operations on small arrays plus one full-frame copy.

``render_clip`` is a picklable top-level function so it can run in a process pool.
"""

from __future__ import annotations

import colorsys
import hashlib
import math
import os
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from . import keyscene

Image = npt.NDArray[np.uint8]  # height x width x 3, RGB
Colour = tuple[int, int, int]

GROUND_SHARE = 0.22  # bottom part of the frame that is ground
X264_OPTIONS = {"preset": "superfast", "crf": "23", "movflags": "+faststart"}


@dataclass(frozen=True)
class MovingShape:
    kind: str  # "disc" | "square" | "triangle" | "diamond"
    colour: Colour
    radius: float  # pixels
    start: tuple[float, float]  # fraction of the free area, (x, y)
    velocity: tuple[float, float]  # free-area widths per second, (x, y)
    spin: float  # radians per second


@dataclass(frozen=True)
class Scene:
    width: int
    height: int
    background: Image  # packed yuv420p, see Canvas
    ground_top: int
    stripe_colours: tuple[Colour, Colour]
    stripe_width: int
    sun: tuple[float, float, float, Colour]  # x, y, radius, colour
    shapes: tuple[MovingShape, ...]
    walker_colour: Colour
    walker_speed: float  # frame widths per second
    draw_ground: bool


def render_clip(
    prompt: str,
    path: str | Path,
    *,
    width: int = 1280,
    height: int = 720,
    fps: int = 24,
    seconds: int = 5,
    keyframe: str | Path | None = None,
    imperfections: Iterable[str] = keyscene.IMPERFECTIONS,
) -> Path:
    """Write an MP4 (H.264, yuv420p, ``fps`` frames a second, ``seconds`` long) to ``path``.

    A prompt that asks for a plain key-colour background (:func:`keyscene.key_colour_of`)
    gets the key-colour scene with the given ``imperfections`` (all of them by default).
    """
    if width % 2 or height % 2:
        raise ValueError("yuv420p needs an even width and height")
    target = Path(path)
    key = keyscene.key_colour_of(prompt) if keyframe is None else None
    if key is not None:
        keyed = key_scene(prompt, width, height, fps, imperfections)
        return _write(target, width, height, fps, fps * seconds, _key_frames(keyed))
    rng = random.Random(_seed(prompt))
    scene = _build_scene(rng, width, height, keyframe)
    return _write(target, width, height, fps, fps * seconds, lambda i: _draw_frame(scene, i / fps).packed)


def _write(target: Path, width: int, height: int, fps: int, count: int, draw: Callable[[int], Image]) -> Path:
    with av.open(str(target), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps, options=dict(X264_OPTIONS))
        stream.width = width
        stream.height = height
        stream.pix_fmt = "yuv420p"
        for index in range(count):
            frame = av.VideoFrame.from_ndarray(draw(index), format="yuv420p")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return target


# --- the key-colour scene (keyscene.py says what it shows) ----------------------------------


def key_scene(
    prompt: str, width: int, height: int, fps: int, imperfections: Iterable[str] = keyscene.IMPERFECTIONS
) -> keyscene.KeyScene:
    """The key-colour scene a prompt renders (ValueError if it asks for no key colour)."""
    key = keyscene.key_colour_of(prompt)
    if key is None:
        raise ValueError("the prompt asks for no key-colour background")
    unknown = set(imperfections) - set(keyscene.IMPERFECTIONS)
    if unknown:
        raise ValueError(f"unknown imperfections: {sorted(unknown)}")
    return keyscene.KeyScene(width, height, fps, key, frozenset(imperfections))


def true_matte(
    prompt: str,
    frame_index: int,
    *,
    width: int,
    height: int,
    fps: int = 24,
    imperfections: Iterable[str] = keyscene.IMPERFECTIONS,
) -> npt.NDArray[np.bool_]:
    """The exact subject mask (H×W bool) of frame ``frame_index`` of a key-colour clip."""
    return keyscene.true_matte(key_scene(prompt, width, height, fps, imperfections), frame_index)


def _key_frames(scene: keyscene.KeyScene) -> Callable[[int], Image]:
    background = _to_yuv420(keyscene.background_rgb(scene))
    fields = keyscene.noise_fields(scene, background.shape)

    def draw(index: int) -> Image:
        canvas = Canvas(background.copy(), scene.width, scene.height)
        for kind, box, colour in keyscene.shapes(scene, index):
            if kind == "box":
                _paint_box(canvas, box[0], box[1], box[2], box[3], colour)
            else:
                _paint_ellipse(canvas, box[0], box[1], box[2], box[3], colour)
        return keyscene.add_noise(canvas.packed, fields, index)

    return draw


def _seed(prompt: str) -> int:
    return int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big")


# --- the scene: every choice made once, up front -------------------------------------------


def _hsv(hue: float, saturation: float, value: float) -> Colour:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return (round(red * 255), round(green * 255), round(blue * 255))


def _build_scene(rng: random.Random, width: int, height: int, keyframe: str | Path | None) -> Scene:
    base_hue = rng.random()
    ground_top = int(height * (1 - GROUND_SHARE))
    if keyframe is not None:
        background = _keyframe_background(keyframe, width, height)
    else:
        background = _sky(width, height, base_hue, rng)
    scale = min(width, height) / 720
    shapes = tuple(_random_shape(rng, base_hue, scale) for _ in range(rng.randint(3, 5)))
    ground_hue = base_hue + rng.choice((0.25, 0.33, 0.5))
    return Scene(
        width=width,
        height=height,
        background=_to_yuv420(background),
        ground_top=ground_top,
        stripe_colours=(_hsv(ground_hue, 0.6, 0.55), _hsv(ground_hue, 0.7, 0.42)),
        stripe_width=max(8, int(48 * scale)),
        sun=(
            rng.uniform(0.6, 0.9) * width,
            rng.uniform(0.15, 0.3) * height,
            rng.uniform(40, 70) * scale,
            _hsv(base_hue + 0.12, rng.uniform(0.3, 0.6), 1.0),
        ),
        shapes=shapes,
        walker_colour=_hsv(base_hue + 0.5, 0.85, 0.95),
        walker_speed=rng.uniform(0.12, 0.22) * rng.choice((-1, 1)),
        draw_ground=keyframe is None,
    )


def _sky(width: int, height: int, hue: float, rng: random.Random) -> Image:
    top = np.array(_hsv(hue, rng.uniform(0.5, 0.8), rng.uniform(0.35, 0.55)), dtype=np.float32)
    bottom = np.array(_hsv(hue + 0.08, rng.uniform(0.2, 0.4), 0.95), dtype=np.float32)
    # Eight flat bands rather than a smooth ramp: banded skies survive palette reduction.
    bands = np.floor(np.linspace(0, 8, height, endpoint=False)) / 7
    column = top[None, :] * (1 - bands[:, None]) + bottom[None, :] * bands[:, None]
    rows = column.astype(np.uint8)[:, None, :]
    return np.ascontiguousarray(np.broadcast_to(rows, (height, width, 3)))


def _keyframe_background(keyframe: str | Path, width: int, height: int) -> Image:
    from PIL import Image as PILImage  # only clips with a keyframe need Pillow

    with PILImage.open(keyframe) as image:
        resized = image.convert("RGB").resize((width, height), PILImage.Resampling.BILINEAR)
        return np.asarray(resized, dtype=np.uint8).copy()


def _random_shape(rng: random.Random, base_hue: float, scale: float) -> MovingShape:
    speed = rng.uniform(0.25, 0.6)
    angle = rng.uniform(0, 2 * math.pi)
    return MovingShape(
        kind=rng.choice(("disc", "square", "triangle", "diamond")),
        colour=_hsv(base_hue + rng.uniform(0.15, 0.85), rng.uniform(0.7, 1.0), rng.uniform(0.8, 1)),
        radius=rng.uniform(35, 80) * scale,
        start=(rng.random(), rng.random()),
        velocity=(speed * math.cos(angle), speed * 0.8 * math.sin(angle)),
        spin=rng.uniform(0.8, 2.5) * rng.choice((-1, 1)),
    )


# --- drawing one frame, straight into YUV 4:2:0 planes --------------------------------------
#
# Converting every RGB frame to yuv420p took longer than drawing and encoding together, so the
# canvas *is* a yuv420p frame: each shape paints its luma at full size and its two chroma
# planes at half size. Colours are converted once (BT.601 limited range, as swscale does).


class Canvas:
    """One yuv420p frame as a (height * 3 / 2, width) array, with views of its three planes."""

    def __init__(self, packed: Image, width: int, height: int) -> None:
        self.packed = packed
        self.luma = packed[:height]
        quarter = (height // 2) * (width // 2)
        chroma = packed[height:].reshape(-1)
        self.blue = chroma[:quarter].reshape(height // 2, width // 2)
        self.red = chroma[quarter:].reshape(height // 2, width // 2)

    def planes(self) -> tuple[tuple[Image, int, float], ...]:
        """Each plane with the index of its YUV component and its scale to frame pixels."""
        return ((self.luma, 0, 1.0), (self.blue, 1, 0.5), (self.red, 2, 0.5))


def _yuv(colour: Colour) -> tuple[int, int, int]:
    red, green, blue = colour
    luma = 16 + (65.481 * red + 128.553 * green + 24.966 * blue) / 255
    chroma_blue = 128 + (-37.797 * red - 74.203 * green + 112.0 * blue) / 255
    chroma_red = 128 + (112.0 * red - 93.786 * green - 18.214 * blue) / 255
    return (round(luma), round(chroma_blue), round(chroma_red))


def _to_yuv420(rgb: Image) -> Image:
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    packed = frame.reformat(format="yuv420p").to_ndarray()
    return np.asarray(packed, dtype=np.uint8)


def _draw_frame(scene: Scene, t: float) -> Canvas:
    canvas = Canvas(scene.background.copy(), scene.width, scene.height)
    sun_x, sun_y, sun_radius, sun_colour = scene.sun
    pulse = 1 + 0.08 * math.sin(2 * math.pi * t / 2.5)
    _paint_disc(canvas, sun_x, sun_y, sun_radius * pulse, sun_colour)
    if scene.draw_ground:
        _paint_ground(canvas, scene, t)
    for shape in scene.shapes:
        _paint_shape(canvas, scene, shape, t)
    _paint_walker(canvas, scene, t)
    return canvas


def _paint_ground(canvas: Canvas, scene: Scene, t: float) -> None:
    # One row of stripes, scrolled with time, broadcast over the ground band of each plane.
    offset = int(t * scene.width * 0.1)
    columns = (np.arange(scene.width) + offset) // scene.stripe_width % 2
    palette = np.array([_yuv(colour) for colour in scene.stripe_colours], dtype=np.uint8)
    for plane, component, scale in canvas.planes():
        top = int(scene.ground_top * scale)
        step = round(1 / scale)
        plane[top:] = palette[columns[::step], component][None, :]


def _bounce(start: float, velocity: float, t: float) -> float:
    """Position in [0, 1] of a point moving at ``velocity`` and bouncing off both ends."""
    phase = (start + velocity * t) % 2.0
    return 2.0 - phase if phase > 1.0 else phase


def _paint_shape(canvas: Canvas, scene: Scene, shape: MovingShape, t: float) -> None:
    margin = shape.radius
    free_width = scene.width - 2 * margin
    free_height = scene.ground_top - 2 * margin
    centre_x = margin + free_width * _bounce(shape.start[0], shape.velocity[0], t)
    centre_y = margin + free_height * _bounce(shape.start[1], shape.velocity[1], t)
    angle = shape.spin * t
    if shape.kind == "disc":
        _paint_disc(canvas, centre_x, centre_y, shape.radius, shape.colour)
        _paint_disc(canvas, centre_x, centre_y, shape.radius * 0.45, _darker(shape.colour))
    else:
        sides = {"square": 4, "triangle": 3, "diamond": 4}[shape.kind]
        offset = math.pi / 4 if shape.kind == "diamond" else 0.0
        _paint_polygon(canvas, centre_x, centre_y, shape.radius, sides, angle + offset, shape.colour)


def _paint_walker(canvas: Canvas, scene: Scene, t: float) -> None:
    """A round-bodied creature with eyes and swinging legs, walking along the ground line."""
    size = min(scene.width, scene.height) / 720 * 70
    span = scene.width + 4 * size
    travelled = (0.3 + scene.walker_speed * t) % 1.0
    centre_x = travelled * span - 2 * size
    stride = math.sin(2 * math.pi * t * 2.0)
    feet_y = scene.ground_top + size * 0.15
    body_y = feet_y - size * 1.25 - abs(stride) * size * 0.12
    leg_colour = _darker(scene.walker_colour)
    for side in (-1, 1):
        foot_x = centre_x + side * size * 0.35 + stride * side * size * 0.3
        _paint_box(canvas, foot_x - size * 0.14, body_y, foot_x + size * 0.14, feet_y, leg_colour)
    _paint_ellipse(canvas, centre_x, body_y, size * 0.8, size * 0.7, scene.walker_colour)
    facing = 1 if scene.walker_speed > 0 else -1
    for eye in (0.05, 0.4):
        eye_x = centre_x + facing * size * eye
        _paint_disc(canvas, eye_x, body_y - size * 0.2, size * 0.16, (255, 255, 255))
        _paint_disc(canvas, eye_x + facing * size * 0.05, body_y - size * 0.2, size * 0.08, (20, 20, 30))


def _darker(colour: Colour) -> Colour:
    return (colour[0] * 3 // 5, colour[1] * 3 // 5, colour[2] * 3 // 5)


# --- primitives: each computes a mask only over its clipped bounding box, once per plane ---

Grid = tuple[slice, slice, npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _box_grid(
    plane: Image, scale: float, left: float, top: float, right: float, bottom: float
) -> Grid | None:
    """The plane's slice covering a box given in frame pixels, and the frame coordinates of
    its sample centres (open grids, so masks broadcast without full-size temporaries)."""
    height, width = plane.shape[:2]
    x0, x1 = max(0, math.floor(left * scale)), min(width, math.ceil(right * scale))
    y0, y1 = max(0, math.floor(top * scale)), min(height, math.ceil(bottom * scale))
    if x0 >= x1 or y0 >= y1:
        return None
    xs = np.arange(x0, x1, dtype=np.float64)[None, :] / scale + 0.5
    ys = (np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5) / scale
    return slice(y0, y1), slice(x0, x1), xs, ys


def _paint_ellipse(canvas: Canvas, cx: float, cy: float, rx: float, ry: float, colour: Colour) -> None:
    yuv = _yuv(colour)
    for plane, component, scale in canvas.planes():
        grid = _box_grid(plane, scale, cx - rx, cy - ry, cx + rx, cy + ry)
        if grid is None:
            return
        rows, cols, xs, ys = grid
        mask = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1.0
        plane[rows, cols][mask] = yuv[component]


def _paint_disc(canvas: Canvas, cx: float, cy: float, radius: float, colour: Colour) -> None:
    _paint_ellipse(canvas, cx, cy, radius, radius, colour)


def _paint_box(canvas: Canvas, left: float, top: float, right: float, bottom: float, colour: Colour) -> None:
    yuv = _yuv(colour)
    for plane, component, scale in canvas.planes():
        grid = _box_grid(plane, scale, left, top, right, bottom)
        if grid is None:
            return
        plane[grid[0], grid[1]] = yuv[component]


def _paint_polygon(
    canvas: Canvas,
    cx: float,
    cy: float,
    radius: float,
    sides: int,
    angle: float,
    colour: Colour,
) -> None:
    """A regular polygon: the intersection of ``sides`` half-planes around the centre."""
    yuv = _yuv(colour)
    apothem = radius * math.cos(math.pi / sides)
    normals = [angle + (2 * side + 1) * math.pi / sides for side in range(sides)]
    for plane, component, scale in canvas.planes():
        grid = _box_grid(plane, scale, cx - radius, cy - radius, cx + radius, cy + radius)
        if grid is None:
            return
        rows, cols, xs, ys = grid
        dx, dy = xs - cx, ys - cy
        mask = np.ones((dy.shape[0], dx.shape[1]), dtype=bool)
        for normal in normals:
            mask &= dx * math.cos(normal) + dy * math.sin(normal) <= apothem
        plane[rows, cols][mask] = yuv[component]


def clip_cache_key(
    prompt: str, width: int, height: int, fps: int, seconds: int, keyframe_digest: str = ""
) -> str:
    """A file-name-safe key for a rendered clip, so the same request never renders twice."""
    text = "\x1f".join((prompt, str(width), str(height), str(fps), str(seconds), keyframe_digest))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def render_clip_atomically(
    prompt: str,
    path: Path,
    *,
    width: int,
    height: int,
    fps: int,
    seconds: int,
    keyframe: Path | None = None,
) -> Path:
    """Render to a temporary name and rename, so a half-written clip is never served."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        render_clip(prompt, partial, width=width, height=height, fps=fps, seconds=seconds, keyframe=keyframe)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path
