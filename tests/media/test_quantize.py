"""The palette's pieces: histograms at two resolutions, Lloyd refinement, restarts."""

from __future__ import annotations

import numpy as np
import pytest

from pixelmotion.media import quantize
from pixelmotion.media.quantize import build_palette, coarsen, histogram, kmeans, lloyd, squared_error


def _gradient_frames() -> np.ndarray:
    """Smooth colour ramps with noise: many colours, finer than a 5-bit bin apart."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:48, 0:64]
    frames = []
    for t in range(6):
        r = 40 + 150 * x / 63 + 3 * t
        g = 60 + 120 * y / 47
        b = 90 + 60 * np.sin((x + y + 4 * t) / 9)
        noise = rng.normal(0, 2, (48, 64, 3))
        frames.append(np.stack([r, g, b], -1) + noise)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def test_histogram_bits_set_the_bin_width() -> None:
    pixels = np.array([[0, 0, 0], [3, 3, 3], [4, 4, 4], [7, 0, 0]], dtype=np.uint8)
    means, counts = histogram(pixels, 6)  # bins 4 levels wide
    assert sorted(counts.tolist()) == [1, 1, 2]
    assert [1.5, 1.5, 1.5] in means.tolist() and [4, 4, 4] in means.tolist()
    means5, counts5 = histogram(pixels, 5)  # 8 levels wide: one bin
    assert counts5.tolist() == [4] and np.allclose(means5, [[3.5, 1.75, 1.75]])


def test_coarsen_gives_the_coarser_histogram_of_the_same_pixels() -> None:
    pixels = _gradient_frames().reshape(-1, 3)
    means, counts = coarsen(*histogram(pixels, 6), 5)
    direct_means, direct_counts = histogram(pixels, 5)
    assert np.array_equal(counts, direct_counts)
    assert np.allclose(means, direct_means, atol=1e-9)


def test_squared_error_is_the_weighted_distance_to_the_nearest_centre() -> None:
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 255, (50, 3))
    weights = rng.uniform(1, 5, 50)
    centres = rng.uniform(0, 255, (4, 3))
    brute = (((points[:, None] - centres[None]) ** 2).sum(-1).min(1) * weights).sum()
    assert squared_error(points, weights, centres) == pytest.approx(brute, rel=1e-9)


def test_lloyd_never_raises_the_error_and_finds_separated_clusters() -> None:
    rng = np.random.default_rng(1)
    truth = np.array([[30.0, 30, 30], [200, 40, 90], [90, 220, 160]])
    points = np.concatenate([c + rng.normal(0, 3, (40, 3)) for c in truth])
    weights = np.ones(len(points))
    start = np.array([[0.0, 0, 0], [255, 255, 255], [128, 0, 128]])
    refined = lloyd(points, weights, start)
    assert squared_error(points, weights, refined) < squared_error(points, weights, start)
    found = refined[np.argsort(refined[:, 0])]
    assert np.abs(found - truth[np.argsort(truth[:, 0])]).max() < 2


def test_fine_refinement_beats_the_coarse_palette() -> None:
    frames = _gradient_frames()
    pixels = quantize.sample_pixels(frames)
    fine = histogram(pixels, quantize.FINE_BITS)
    coarse = np.rint(kmeans(*histogram(pixels), 16))
    palette = build_palette(frames, 16).astype(np.float64)
    assert squared_error(*fine, palette) < squared_error(*fine, coarse)


def test_few_colours_take_the_best_of_several_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    frames = _gradient_frames()
    fine = histogram(quantize.sample_pixels(frames), quantize.FINE_BITS)
    several = build_palette(frames, 8).astype(np.float64)
    monkeypatch.setattr(quantize, "FEW_COLOR_STARTS", 1)
    single = build_palette(frames, 8).astype(np.float64)
    # The first start is the single run; the chosen one is never worse (colours are rounded
    # to whole levels after the choice, hence the tolerance).
    assert squared_error(*fine, several) <= squared_error(*fine, single) * 1.001
