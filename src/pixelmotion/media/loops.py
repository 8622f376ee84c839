"""Seamless loops: ``none``, ``trim`` (the best-looping run of frames) or ``pingpong``.

``trim`` works on the pixel-art frames themselves. ``D[i, j]`` is the RMS colour difference
of frames ``i`` and ``j``; ``m`` the median difference of consecutive frames (how much the
picture normally changes in one step). A run ``s..e`` played in a loop goes from ``e`` back
to ``s``; that step looks like any other when the motion continues across it, i.e. when
``s`` looks like the frame that followed ``e`` and ``e`` like the frame that preceded ``s``:

    cost(s, e) = mean of D[e + 1 + j, s + j] for j in -2, -1, 0, 1   (those that exist)

Two frames on each side, so a pose that merely repeats while moving the other way (the
middle of a stride) does not pass for a seamless seam. A run with fewer than two of these
terms (near both ends of the clip) costs at least ``D[e, s]``, about ``m`` at best, so a run
whose motion is seen to continue across the seam wins over it. Among the runs of at
least one second whose cost is within ``TOLERANCE · m`` of the best, the longest wins, and
among those the one with the smallest jump ``D[e, s]``. The reported seam figure is
``D[e, s] / m``: 1 means the loop's seam moves as much as an ordinary step.

``pingpong`` keeps the frames and sets the tag direction; formats without a direction get
the frames doubled (forward, then back without repeating the end frames), see
:meth:`Animation.unrolled`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from pixelmotion.jobs.options import LOOP_MODES

from .quantize import single_thread_matmul

if TYPE_CHECKING:
    from .animation import Animation

LOOPS = LOOP_MODES
TOLERANCE = 0.1
CONTINUATION = (-2, -1, 0, 1)
# Frames are compared on an evenly strided sample of pixels: at most COMPARE_PIXELS, fewer
# for long clips (the pairwise products cost frames² × pixels).
COMPARE_PIXELS = 4096
COMPARE_BUDGET = 400_000_000
MIN_COMPARE_PIXELS = 256

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LoopInfo:
    """What ``trim`` chose: frames ``start`` to ``start + frames`` of the untrimmed clip."""

    mode: str
    start: int
    frames: int
    seam: float | None  # D[end, start] / median consecutive difference

    def as_dict(self) -> dict[str, object]:
        return {"mode": self.mode, "start": self.start, "frames": self.frames, "seam": self.seam}


def frame_distances(rgb: npt.NDArray[np.uint8]) -> FloatArray:
    """N×N RMS colour differences of N×H×W×3 frames (a strided sample of pixels)."""
    n = len(rgb)
    flat = rgb.reshape(n, -1, 3)
    pixels = max(MIN_COMPARE_PIXELS, min(COMPARE_PIXELS, COMPARE_BUDGET // max(1, n * n)))
    step = max(1, -(-flat.shape[1] // pixels))
    x = flat[:, ::step].reshape(n, -1).astype(np.float64)
    x -= x.mean(axis=0)  # centred: the differences of large norms lose less
    norms = (x * x).sum(axis=1)
    gram = single_thread_matmul(x, np.ascontiguousarray(x.T))
    squared = np.maximum(norms[:, None] + norms[None, :] - 2.0 * gram, 0.0)
    return np.asarray(np.sqrt(squared / x.shape[1]), dtype=np.float64)


def best_trim(distances: FloatArray, min_frames: int) -> tuple[int, int, float]:
    """(start, frame count, seam figure) of the best-looping run (module docstring)."""
    n = len(distances)
    steps = np.diagonal(distances, offset=1)
    typical = max(float(np.median(steps)) if len(steps) else 0.0, 1e-6)
    shortest = min(max(2, min_frames), n)
    cost = np.full((n, n), np.inf)  # [start, end]
    for start in range(n - shortest + 1):
        ends = np.arange(start + shortest - 1, n)
        terms = np.full((len(CONTINUATION), len(ends)), np.nan)
        for row, j in enumerate(CONTINUATION):
            # f[e + 1 + j] ≈ f[s + j]: the frames around the seam repeat those around the start.
            later, earlier = ends + 1 + j, start + j
            if earlier < 0 or earlier >= n:
                continue
            inside = later < n
            terms[row, inside] = distances[later[inside], earlier]
        have = np.isfinite(terms).sum(axis=0)
        jump = distances[ends, start]
        mean = np.nansum(terms, axis=0) / np.maximum(have, 1)
        cost[start, ends] = np.where(have >= 2, mean, np.maximum(jump, mean))
    starts, ends = np.nonzero(cost <= cost.min() + TOLERANCE * typical)
    lengths = ends - starts + 1
    longest = lengths == lengths.max()
    starts, ends = starts[longest], ends[longest]
    pick = int(np.argmin(distances[ends, starts]))
    s, e = int(starts[pick]), int(ends[pick])
    return s, e - s + 1, round(float(distances[e, s]) / typical, 3)


def apply_loop(animation: Animation, loop: str) -> Animation:
    """The animation with ``loop`` applied (``none`` returns it unchanged)."""
    if loop == "pingpong":
        info = LoopInfo("pingpong", 0, len(animation.frames), None)
        return replace(animation, tag_direction="pingpong", loop=info)
    if loop != "trim":
        return animation
    count = len(animation.frames)
    if count < 3:
        return replace(animation, loop=LoopInfo("trim", 0, count, None))
    start, frames, seam = best_trim(frame_distances(animation.rgb()), animation.fps)
    end = start + frames
    return replace(
        animation,
        frames=np.ascontiguousarray(animation.frames[start:end]),
        delays_ms=animation.delays_ms[start:end],
        loop=LoopInfo("trim", start, frames, seam),
    )


def pingpong_order(count: int) -> list[int]:
    """Frame order of one forward-and-back cycle: 0..n-1, then n-2..1."""
    return list(range(count)) + list(range(count - 2, 0, -1))
