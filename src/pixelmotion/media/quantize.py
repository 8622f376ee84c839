"""One palette for a whole animation: weighted k-means over a colour histogram.

The pixels of all frames (a strided sample when there are many) are binned to 6 bits per
channel, and those bins summed into 5-bit ones; each occupied bin becomes one point at the
mean colour of its pixels, weighted by its pixel count. Weighted k-means (k-means++ seeding
from a fixed seed, then Lloyd iterations) on the 5-bit points minimises the squared RGB
error of the final picture, which is what PSNR measures. The centres are then refined by
Lloyd iterations on the 6-bit points: a 5-bit bin is 8 levels wide, and assigning whole bins
to one colour costs up to 0.3 dB on busy real footage. At up to 8 colours the palette is
the best of 3 such runs from different seeds. Same input, same palette.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ByteArray = npt.NDArray[np.uint8]

# Palette sample: 128 K pixels gave the same PSNR as 256 K (±0.1 dB) on the benchmark clips
# at 64, 128 and 256 px, in half the histogram time.
SAMPLE_PIXELS = 1 << 17
HIST_BITS = 5
# The refinement's histogram: 64 levels per channel (bins 4 levels wide).
FINE_BITS = 6
MAX_ITERATIONS = 40
# Stop once no centre moves by this much (palette colours are rounded to whole levels).
TOLERANCE = 0.25
SEED = 20240611
# Up to this many colours, the palette is the best of a few seeded runs: with few colours
# k-means' local optima differ most (up to 0.1 dB on busy real footage at 8 colours, where
# the margin over ffmpeg is thinnest) and each run costs least.
FEW_COLORS = 8
FEW_COLOR_STARTS = 3
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


def histogram(pixels: ByteArray, bits: int = HIST_BITS) -> tuple[FloatArray, FloatArray]:
    """Bin colours to ``bits`` per channel; return (mean colour of each occupied bin, pixel
    count of each bin)."""
    cells = pixels >> (8 - bits)
    keys = cells[:, 0].astype(np.uint32) << (2 * bits)
    keys |= cells[:, 1].astype(np.uint32) << bits
    keys |= cells[:, 2]
    counts = np.bincount(keys, minlength=1 << (3 * bits))
    used = np.flatnonzero(counts)
    # Sums over the occupied bins only: at 6 bits three weighted bincounts over all 262 144
    # bins cost 8× the 5-bit histogram.
    slot = np.zeros(len(counts), dtype=np.int32)
    slot[used] = np.arange(used.size)
    compact = slot[keys]
    mass = counts[used].astype(np.float64)
    means = np.empty((used.size, 3), dtype=np.float64)
    for c in range(3):
        means[:, c] = np.bincount(compact, weights=pixels[:, c], minlength=used.size) / mass
    return means, mass


def coarsen(means: FloatArray, counts: FloatArray, bits: int) -> tuple[FloatArray, FloatArray]:
    """The histogram of :func:`histogram` at ``bits`` per channel, from a finer one (its bins
    nest in the coarser ones): the same result without another pass over the pixels."""
    cells = means.astype(np.int64) >> (8 - bits)
    keys = (cells[:, 0] << (2 * bits)) | (cells[:, 1] << bits) | cells[:, 2]
    used, inverse = np.unique(keys, return_inverse=True)
    total = np.asarray(np.bincount(inverse, weights=counts, minlength=len(used)), dtype=np.float64)
    coarse = np.empty((len(used), 3), dtype=np.float64)
    for c in range(3):
        coarse[:, c] = np.bincount(inverse, weights=means[:, c] * counts, minlength=len(used)) / total
    return coarse, total


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


def _seed_centres(points: FloatArray, weights: FloatArray, k: int, seed: int = SEED) -> FloatArray:
    """Greedy k-means++ seeding, deterministic: each new centre is the best of a few
    candidates drawn in proportion to their weighted squared distance (plain k-means++
    draws one, and the palette's quality then swings by up to 3 dB with the seed)."""
    rng = np.random.default_rng(seed)
    trials = 2 + int(np.log(k))
    norms = (points * points).sum(axis=1)
    first = int(np.argmax(weights))
    closest = np.maximum(norms - 2.0 * (points @ points[first]) + norms[first], 0.0)
    chosen = [first]
    for _ in range(1, k):
        score = closest * weights
        total = score.sum()
        if total <= 0:
            break
        picks = np.searchsorted(np.cumsum(score), rng.random(trials) * total)
        picks = np.minimum(picks, len(points) - 1)
        # |p - c|² for every candidate c and point p, as one product.
        products = single_thread_matmul(points, np.ascontiguousarray(points[picks].T)).T
        distances = norms[None, :] - 2.0 * products + norms[picks][:, None]
        candidates = np.minimum(closest[None, :], distances)
        best = int(np.argmin(candidates @ weights))
        chosen.append(int(picks[best]))
        closest = candidates[best]
    return np.array(points[chosen], dtype=np.float64)


def kmeans(points: FloatArray, weights: FloatArray, k: int, seed: int = SEED) -> FloatArray:
    """Weighted Lloyd's k-means; returns at most ``k`` centres."""
    return lloyd(points, weights, _seed_centres(points, weights, k, seed))


def squared_error(points: FloatArray, weights: FloatArray, centres: FloatArray) -> float:
    """Weighted sum of each point's squared distance to its nearest centre."""
    matrix = np.concatenate([-2.0 * centres.T, (centres * centres).sum(axis=1)[None, :]])
    augmented = np.ones((len(points), 4), dtype=np.float64)
    augmented[:, :3] = points
    nearest = single_thread_matmul(augmented, matrix).min(axis=1) + (points * points).sum(axis=1)
    return float(np.maximum(nearest, 0.0) @ weights)


def lloyd(
    points: FloatArray, weights: FloatArray, centres: FloatArray, iterations: int = MAX_ITERATIONS
) -> FloatArray:
    """Weighted Lloyd iterations from ``centres`` until no centre moves by TOLERANCE (at
    most ``iterations``); an emptied cluster is re-seeded at the worst-served point."""
    k = len(centres)
    # Nearest centre = argmin of |c|² - 2 p·c, one product: [p, 1] @ [-2 cᵀ; |c|²].
    augmented = np.ones((len(points), 4), dtype=np.float64)
    augmented[:, :3] = points
    # Each point's weighted channels and weight, summed per cluster by one bincount.
    per_point = np.empty((len(points), 4), dtype=np.float64)
    per_point[:, :3] = points * weights[:, None]
    per_point[:, 3] = weights
    sums_of = per_point.reshape(-1)
    channel = np.arange(4)
    for _ in range(iterations):
        matrix = np.concatenate([-2.0 * centres.T, (centres * centres).sum(axis=1)[None, :]])
        score = single_thread_matmul(augmented, matrix)
        labels = score.argmin(axis=1)
        keys = (labels[:, None] * 4 + channel).reshape(-1)
        sums = np.bincount(keys, weights=sums_of, minlength=4 * k).reshape(k, 4)
        mass = sums[:, 3]
        empty = mass == 0
        mass[empty] = 1.0
        moved = sums[:, :3] / mass[:, None]
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
        if shift < TOLERANCE:
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
    fine_points, fine_weights = histogram(pixels, FINE_BITS)
    points, weights = coarsen(fine_points, fine_weights, HIST_BITS)
    if len(points) <= colors:
        packed = (pixels.astype(np.uint32) << np.array([16, 8, 0], dtype=np.uint32)).sum(axis=1)
        distinct = np.unique(packed)
        if len(distinct) <= colors:
            exact = np.stack([(distinct >> s) & 255 for s in (16, 8, 0)], axis=1)
            return _finish(exact.astype(np.float64), colors)
        return _finish(points, colors)
    starts = FEW_COLOR_STARTS if colors <= FEW_COLORS else 1
    runs = []
    for start in range(starts):
        coarse = kmeans(points, weights, colors, SEED + start)
        centres = lloyd(fine_points, fine_weights, coarse)
        error = squared_error(fine_points, fine_weights, centres) if starts > 1 else 0.0
        runs.append((error, start, centres))
    return _finish(min(runs, key=lambda run: run[:2])[2], colors)
