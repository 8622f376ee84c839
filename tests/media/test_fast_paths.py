"""The fast paths of the pipeline against plain reference implementations: swscale area
downscale (every fit, odd pixel formats), 32-bit stability test, moved-only palette mapping,
palette order, the PNG writer and the FFmpeg GIF writer."""

from __future__ import annotations

import gc
import io
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageSequence
from tests.images import open_image

from pixelmotion.media import pixelate_video
from pixelmotion.media.decode import DecodeOptions, Decoder
from pixelmotion.media.dither import NearestColor, hold_still_pixels, map_frames
from pixelmotion.media.encode import delays_cs, indexed_png_bytes, save_gif
from pixelmotion.media.geometry import place
from pixelmotion.media.quantize import build_palette, single_thread_matmul
from pixelmotion.media.resample import AreaScaler


def _area_reference(rgb: np.ndarray, box: tuple[int, int, int, int], w: int, h: int) -> np.ndarray:
    """Exact float area average of an integer rectangle of an RGB picture."""
    x0, y0, x1, y1 = box
    part = rgb[y0:y1, x0:x1].astype(np.float64)

    def weights(src: int, dst: int) -> np.ndarray:
        edges = np.arange(dst + 1) * (src / dst)
        j = np.arange(src)
        overlap = np.minimum(edges[1:, None], j[None, :] + 1) - np.maximum(edges[:-1, None], j)
        m = np.clip(overlap, 0, None)
        return np.asarray(m / m.sum(axis=1, keepdims=True))

    rows, cols = weights(part.shape[0], h), weights(part.shape[1], w)
    return np.asarray(np.einsum("lk,ikc->ilc", cols, np.einsum("ij,jkc->ikc", rows, part)))


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b) ** 2).mean())
    return float(10 * np.log10(255**2 / max(mse, 1e-9)))


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A smooth 360×200 picture with some colour edges (even sizes for 4:2:0)."""
    y, x = np.mgrid[0:200, 0:360].astype(np.float64)
    rgb = np.stack([x / 360 * 255, y / 200 * 255, 128 + 100 * np.sin(x / 23 + y / 17)], axis=-1)
    rgb[60:140, 100:200] = (230, 40, 40)
    return np.asarray(np.clip(rgb, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("fmt", ["yuv420p", "yuvj420p", "yuv444p", "yuv422p10le", "nv12", "rgb24"])
@pytest.mark.parametrize("fit", ["stretch", "crop"])
def test_area_scaler_matches_exact_area_average(picture: np.ndarray, fmt: str, fit: str) -> None:
    source = av.VideoFrame.from_ndarray(picture, format="rgb24")
    frame = source.reformat(format=fmt) if fmt != "rgb24" else source
    # What the decoder would see: the picture after the round trip through ``fmt``.
    seen = frame.to_ndarray(format="rgb24")
    h, w = 24, 24
    placement = place(360, 200, w, h, fit)
    for channels in (3, 4):
        out = AreaScaler(360, 200, w, h, placement, channels).scale(frame)
        assert out.shape == (h, w, channels) and out.dtype == np.uint8
        x0 = round(placement.src_x)
        box = (x0 - x0 % 2, 0, round(placement.src_x + placement.src_w), 200)
        assert _psnr(out[..., :3], _area_reference(seen, box, w, h)) > 38


def test_contain_pads_with_black(picture: np.ndarray) -> None:
    frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
    out = AreaScaler(360, 200, 20, 20, place(360, 200, 20, 20, "contain"), 4).scale(frame)
    assert out.shape == (20, 20, 4)
    assert out[:3, :, :3].max() == 0 and out[-3:, :, :3].max() == 0 and out[10, :, :3].max() > 0


def _reference_map(frames: np.ndarray, palette: np.ndarray, limit: int = 4) -> np.ndarray:
    """The stability rule written plainly: per pixel, the index changes only when the source
    moved by more than ``limit`` on some channel since the index was chosen."""
    nearest = NearestColor(palette).exact
    n, h, w, _ = frames.shape
    out = np.empty((n, h, w), dtype=np.uint8)
    anchor = frames[0, ..., :3].astype(int)
    out[0] = nearest(frames[0, ..., :3].reshape(-1, 3)).reshape(h, w)
    for i in range(1, n):
        cur = frames[i, ..., :3].astype(int)
        hold = np.abs(cur - anchor).max(axis=-1) <= limit
        fresh = nearest(frames[i, ..., :3].reshape(-1, 3)).reshape(h, w)
        out[i] = np.where(hold, out[i - 1], fresh)
        anchor = np.where(hold[..., None], anchor, cur)
    return out


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("size", [6, 80])  # exact mapping, and the lookup-table path
def test_map_frames_matches_reference(channels: int, size: int) -> None:
    rng = np.random.default_rng(7)
    steps = rng.integers(-6, 7, (12, size, size, channels))
    frames = np.clip(128 + np.cumsum(steps, axis=0), 0, 255).astype(np.uint8)
    frames[5, :2] = 255  # big jumps
    frames[6, :2] = 0
    palette = build_palette(frames, 16)
    expected = _reference_map(frames, palette)
    before = frames.copy()
    assert np.array_equal(map_frames(frames, palette, "none"), expected)
    assert np.array_equal(frames, before)  # not modified without overwrite=True
    if channels == 4:
        assert np.array_equal(map_frames(frames, palette, "none", overwrite=True), expected)


def test_stability_threshold_per_channel_and_fourth_byte_ignored() -> None:
    base = np.array([10, 250, 0, 7], dtype=np.uint8)
    frames = np.tile(base, (8, 1, 6, 1))
    frames[1:, 0, 0, 0] += 4  # within the threshold: held
    frames[1:, 0, 1, 1] -= 5  # beyond it: moves
    frames[1:, 0, 2, 2] = 255  # 0 → 255: moves
    frames[1:, 0, 3, 3] = 200  # fourth byte only: held
    frames[1:, 0, 4, 0] = 14  # +4 …
    frames[2:, 0, 4, 0] = 18  # … then +4 again: 8 from the anchor, moves in frame 2
    moved = hold_still_pixels(frames)
    assert moved[0].all()
    assert moved[1, 0].tolist() == [False, True, True, False, False, False]
    assert moved[2, 0].tolist() == [False, False, False, False, True, False]
    assert frames[1, 0, 0, 0] == 10  # took the anchored value


def test_palette_order_is_by_luminance_and_deterministic(clip: Path) -> None:
    a = pixelate_video(clip, width=32, height=32, colors=16, fps=12)
    b = pixelate_video(clip, width=32, height=32, colors=16, fps=12)
    assert np.array_equal(a.palette, b.palette) and np.array_equal(a.frames, b.frames)
    luma = a.palette.astype(float) @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) >= 0)


def test_single_thread_matmul() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.random((5000, 4)), rng.random((4, 64))
    assert np.allclose(single_thread_matmul(a, b), a @ b)


@pytest.mark.parametrize("colors", [2, 3, 4, 16, 17, 256])
@pytest.mark.parametrize("width", [1, 7, 64])
def test_png_writer_round_trip(colors: int, width: int) -> None:
    rng = np.random.default_rng(colors)
    palette = rng.integers(0, 256, (colors, 3)).astype(np.uint8)
    indices = rng.integers(0, colors, (9, width)).astype(np.uint8)
    image = Image.open(io.BytesIO(indexed_png_bytes(indices, palette)))
    assert image.mode == "P" and image.size == (width, 9)
    assert np.array_equal(np.asarray(image), indices)
    assert np.array_equal(np.asarray(image.convert("RGB")), palette[indices])


@pytest.mark.parametrize(("colors", "fps"), [(2, 24), (16, 30), (256, 25)])
def test_gif_frames_and_delays_exact(tmp_path: Path, colors: int, fps: int) -> None:
    rng = np.random.default_rng(colors)
    palette = np.unique(rng.integers(0, 256, (colors * 2, 3)).astype(np.uint8), axis=0)[:colors]
    frames = rng.integers(0, len(palette), (fps, 12, 10)).astype(np.uint8)
    frames[3] = frames[2]  # an unchanged frame
    frames[4, 5:] = frames[3, 5:]  # a partly unchanged one
    save_gif(tmp_path / "a.gif", frames, palette, fps)
    image = open_image(tmp_path / "a.gif")
    assert image.info.get("loop") == 0
    seen, durations = [], []
    for frame in ImageSequence.Iterator(image):
        seen.append(np.asarray(frame.convert("RGB")))
        durations.append(frame.info["duration"])
    assert sum(durations) == 1000
    if len(seen) == len(frames):
        assert durations == [10 * d for d in delays_cs(fps, fps)]
    expected = palette[frames]
    # Identical consecutive frames may be merged; every distinct frame is shown exactly.
    distinct = [expected[0]] + [
        expected[i] for i in range(1, fps) if not np.array_equal(frames[i], frames[i - 1])
    ]
    assert len(seen) in (len(frames), len(distinct))
    for got, want in zip(seen, expected if len(seen) == len(frames) else distinct, strict=True):
        assert np.array_equal(got, want)


def test_fork_with_decoder_garbage_does_not_hang(clip: Path) -> None:
    # A decoder with live FFmpeg threads, only reachable from a reference cycle when the
    # process forks: the child's garbage collector must not try to free it.
    gc.disable()
    try:
        decoder = Decoder(clip, DecodeOptions(16, 16, 12, "crop"))
        frames = decoder.frames()
        next(frames)
        cycle: dict[str, object] = {"decoder": decoder, "frames": frames}
        cycle["self"] = cycle
        del decoder, frames, cycle
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
            assert pool.submit(gc.collect).result(timeout=60) >= 0
    finally:
        gc.enable()
        gc.collect()
