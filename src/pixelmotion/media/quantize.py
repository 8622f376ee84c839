"""One palette for a whole animation: weighted k-means over a colour histogram.

The pixels of all frames (a strided sample when there are many) are binned to 5 bits per
channel; each occupied bin becomes one point at the mean colour of its pixels, weighted by
its pixel count. Weighted k-means (k-means++ seeding from a fixed seed, then Lloyd
iterations) on those points minimises the squared RGB error of the final picture, which is
what PSNR measures. Same input, same palette.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ByteArray = npt.NDArray[np.uint8]

SAMPLE_PIXELS = 1 << 18
HIST_BITS = 5
MAX_ITERATIONS = 40
SEED = 20240611
_BLAS_THREAD_THRESHOLD = 262_143


def sample_pixels(frames: ByteArray, limit: int = SAMPLE_PIXELS) -> ByteArray:
    """Up to ``limit`` RGB pixels (n×3) spread evenly over all frames (…×3, or …×4 of which
    the fourth byte is ignored)."""
    flat = frames.reshape(-1, frames.shape[-1])
    step = max(1, -(-flat.shape[0] // limit))
    # An odd step avoids sampling the same columns of every row.
    if step > 1 and step % 2 == 0:
        step += 1
    return np.ascontiguousarray(flat[::step, :3])


def histogram(pixels: ByteArray) -> tuple[FloatArray, FloatArray]:
    """Bin colours; return (mean colour of each occupied bin, pixel count of each bin)."""
    cells = pixels >> (8 - HIST_BITS)
    keys = cells[:, 0].astype(np.uint16) << (2 * HIST_BITS)
    keys |= cells[:, 1].astype(np.uint16) << HIST_BITS
    keys |= cells[:, 2]
    size = 1 << (3 * HIST_BITS)
    counts = np.bincount(keys, minlength=size).astype(np.float64)
    used = np.flatnonzero(counts)
    means = np.empty((used.size, 3), dtype=np.float64)
    for c in range(3):
        sums = np.bincount(keys, weights=pixels[:, c], minlength=size)
        means[:, c] = sums[used] / counts[used]
    return means, counts[used]


def single_thread_matmul(a: FloatArray, b: FloatArray) -> FloatArray:
    """``a @ b``, in row blocks small enough that OpenBLAS keeps to one thread.

    OpenBLAS splits a product over threads above m·n·k = 262 144; on a busy 2-core machine
    its spinning threads cost several times the work they do, and take the cores away from
    the decoder. Below the threshold it runs on the caller's thread.
    """
    rows = max(16, _BLAS_THREAD_THRESHOLD // max(1, b.shape[0] * b.shape[1]))
    if a.shape[0] <= rows:
        return a @ b
    out = np.empty((a.shape[0], b.shape[1]), dtype=np.result_type(a, b))
    for start in range(0, a.shape[0], rows):
        np.matmul(a[start : start + rows], b, out=out[start : start + rows])
    return out


def _seed_centres(points: FloatArray, weights: FloatArray, k: int) -> FloatArray:
    """k-means++ seeding, deterministic."""
    rng = np.random.default_rng(SEED)
    centres = [points[int(np.argmax(weights))]]
    closest = ((points - centres[0]) ** 2).sum(axis=1)
    for _ in range(1, k):
        score = closest * weights
        total = score.sum()
        if total <= 0:
            break
        pick = int(np.searchsorted(np.cumsum(score), rng.random() * total))
        pick = min(pick, len(points) - 1)
        centres.append(points[pick])
        closest = np.minimum(closest, ((points - points[pick]) ** 2).sum(axis=1))
    return np.array(centres, dtype=np.float64)


def kmeans(points: FloatArray, weights: FloatArray, k: int) -> FloatArray:
    """Weighted Lloyd's k-means; returns at most ``k`` centres."""
    centres = _seed_centres(points, weights, k)
    k = len(centres)
    # Nearest centre = argmin of |c|² - 2 p·c, one product: [p, 1] @ [-2 cᵀ; |c|²].
    augmented = np.ones((len(points), 4), dtype=np.float64)
    augmented[:, :3] = points
    weighted = points * weights[:, None]
    for _ in range(MAX_ITERATIONS):
        matrix = np.concatenate([-2.0 * centres.T, (centres * centres).sum(axis=1)[None, :]])
        score = single_thread_matmul(augmented, matrix)
        labels = score.argmin(axis=1)
        mass = np.bincount(labels, weights=weights, minlength=k)
        moved = np.empty_like(centres)
        for c in range(3):
            moved[:, c] = np.bincount(labels, weights=weighted[:, c], minlength=k)
        empty = mass == 0
        mass[empty] = 1.0
        moved /= mass[:, None]
        if empty.any():
            # Re-seed an empty cluster at the worst-served point.
            best = score[np.arange(len(points)), labels] + (points * points).sum(axis=1)
            error = np.maximum(best, 0.0) * weights
            for idx in np.flatnonzero(empty):
                worst = int(np.argmax(error))
                moved[idx] = points[worst]
                error[worst] = 0.0
        shift = float(np.abs(moved - centres).max())
        centres = moved
        if shift < 0.05:
            break
    return centres


def _finish(colors: FloatArray, k: int) -> ByteArray:
    rounded = np.clip(np.rint(colors), 0, 255).astype(np.uint8)
    unique = np.unique(rounded, axis=0)[:k]
    luma = unique.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    order = np.lexsort((unique[:, 2], unique[:, 1], unique[:, 0], luma))
    return np.ascontiguousarray(unique[order])


def build_palette(frames: ByteArray, colors: int) -> ByteArray:
    """A palette of at most ``colors`` colours (K×3 uint8) for ``frames`` (…×3 uint8, or
    …×4 whose fourth byte is ignored)."""
    pixels = sample_pixels(frames)
    points, weights = histogram(pixels)
    if len(points) <= colors:
        packed = (pixels.astype(np.uint32) << np.array([16, 8, 0], dtype=np.uint32)).sum(axis=1)
        distinct = np.unique(packed)
        if len(distinct) <= colors:
            exact = np.stack([(distinct >> s) & 255 for s in (16, 8, 0)], axis=1)
            return _finish(exact.astype(np.float64), colors)
        return _finish(points, colors)
    return _finish(kmeans(points, weights, colors), colors)
