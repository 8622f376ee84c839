"""Pixel-art pipeline benchmark: pixelmotion vs the ffmpeg CLI palette route, same clips.

Run: .venv/bin/python bench/pipeline.py [--rounds 5] [--quick]   (about 4–5 minutes)

For each clip and case it times (median of N rounds after one warm-up, runs interleaved so
machine noise hits all three alike; N = --rounds for the headline 64×64 case, half as many
(at least 3) for the others): our pipeline in-process (``pixelate_video`` + GIF), the
ffmpeg CLI (``palettegen``/``paletteuse`` to a GIF, the static binary of imageio-ffmpeg), and
PyAV decoding alone (the floor). Quality, for us and for ffmpeg: PSNR against the exact
area-downscaled source frames, and flicker (share of pixels whose output colour changes
between consecutive frames while the source moved by 3 levels or less). Besides wall time it
reports CPU seconds (ours: this process, all threads; ffmpeg: the child process), which the
other load on a shared machine disturbs less, and the load average before and after.

Then the background-removal figures (bench/keying.py; ``--keying-only`` runs just those).

Clips: bench/clips.py (``make bench-clips`` fetches them once; this benchmark only reads
the cache): the emulator's 720p clip, and real footage from PyPI and Debian.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
from av.video.reformatter import Interpolation
from PIL import Image, ImageSequence

from clips import CACHE, clip_1080p, ffmpeg_exe, more_real_clips, real_clips, reference_clip
from keying import keying_figures
from pixelmotion.media import Animation, pixelate_video

CASES = [(64, 64, 16, 24), (128, 128, 32, 24), (256, 256, 64, 30)]


# ---------------------------------------------------------------- runs


def run_ours(src: Path, out: Path, w: int, h: int, colors: int, fps: int) -> Animation:
    animation = pixelate_video(src, width=w, height=h, colors=colors, fps=fps, fit="stretch")
    animation.save_gif(out)
    return animation


def run_ffmpeg(src: Path, out: Path, w: int, h: int, colors: int, fps: int) -> None:
    graph = (
        f"fps={fps},scale={w}:{h}:flags=area,split[a][b];"
        f"[a]palettegen=max_colors={colors}:reserve_transparent=0[p];"
        "[b][p]paletteuse=dither=none"
    )
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-lavfi", graph, str(out)],
        check=True,
    )


def run_decode(src: Path) -> int:
    with av.open(str(src)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children)."""
    start, cpu = time.perf_counter(), _cpu_seconds()
    fn()
    return time.perf_counter() - start, _cpu_seconds() - cpu


def interleaved_medians(
    runs: dict[str, Callable[[], Any]], rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Each run ``rounds`` times, interleaved (so a load change hits all alike): the median
    wall and CPU seconds of each, by name."""
    walls: dict[str, list[float]] = {k: [] for k in runs}
    cpus: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for key, fn in runs.items():
            wall, cpu = timed(fn)
            walls[key].append(wall)
            cpus[key].append(cpu)
    return (
        {k: statistics.median(v) for k, v in walls.items()},
        {k: statistics.median(v) for k, v in cpus.items()},
    )


def read_gif(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(image)])


# ---------------------------------------------------------------- quality


def area_weights(src: int, dst: int) -> np.ndarray:
    """Exact box-filter weights (dst × src), float64: an independent reference."""
    edges = np.arange(dst + 1) * (src / dst)
    j = np.arange(src)
    overlap = np.minimum(edges[1:, None], j[None, :] + 1) - np.maximum(edges[:-1, None], j)
    weights = np.clip(overlap, 0, None)
    return np.asarray(weights / weights.sum(axis=1, keepdims=True), dtype=np.float64)


def _bands(weights: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """Each output row of a box-filter matrix as (first source index, end, its weights)."""
    bands = []
    for row in weights:
        used = np.flatnonzero(row)
        start, end = int(used[0]), int(used[-1]) + 1
        bands.append((start, end, row[start:end]))
    return bands


# The full-size RGB of the reference: PyAV's default conversion (``to_ndarray("rgb24")``)
# truncates, which puts it 1.0 / 1.5 / 1.2 levels (R / G / B) below the float BT.601
# conversion of the same YUV planes; with accurate rounding and full chroma interpolation it
# is within 0.02 levels of it (figures before this fix were measured on the biased one).
FULL_SIZE_RGB = Interpolation.BILINEAR | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT


def reference_frames(src: Path, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, frames): every source frame, converted to RGB at full size, area-averaged."""
    times, frames = [], []
    rows: list[tuple[int, int, np.ndarray]] = []
    cols: list[tuple[int, int, np.ndarray]] = []
    with av.open(str(src)) as container:
        for frame in container.decode(video=0):
            rgb = frame.reformat(format="rgb24", interpolation=FULL_SIZE_RGB).to_ndarray()
            if not rows:
                rows, cols = _bands(area_weights(rgb.shape[0], h)), _bands(area_weights(rgb.shape[1], w))
            # The sums of area_weights(rows) @ rgb @ area_weights(cols).T, band by band (each
            # output pixel only covers a few source rows and columns).
            small = np.stack([np.tensordot(wt, rgb[a:b], axes=(0, 0)) for a, b, wt in rows])
            frames.append(np.stack([np.tensordot(wt, small[:, a:b], axes=(0, 1)) for a, b, wt in cols], 1))
            times.append(float(frame.time or 0.0))
    return np.array(times) - times[0], np.stack(frames)


def quality(output: np.ndarray, fps: int, times: np.ndarray, refs: np.ndarray) -> dict[str, float]:
    """PSNR against the best-aligned reference frame (±1 output frame), and flicker."""
    out = output.astype(np.float64)
    chosen, errors = [], []
    for j, frame in enumerate(out):
        lo, hi = (j - 1) / fps, (j + 2) / fps
        candidates = np.flatnonzero((times >= lo - 1e-6) & (times < hi))
        shown = np.flatnonzero(times <= (j + 0.5) / fps)
        pool = set(candidates.tolist()) | ({int(shown[-1])} if shown.size else {0})
        mses = {k: float(((refs[k] - frame) ** 2).mean()) for k in pool}
        best = min(mses, key=mses.__getitem__)
        chosen.append(best)
        errors.append(mses[best])
    mse = float(np.mean(errors))
    still_total = changed = 0
    for j in range(1, len(out)):
        a, b = np.rint(refs[chosen[j - 1]]), np.rint(refs[chosen[j]])
        still = np.abs(b - a).max(axis=-1) <= 3
        flips = (out[j] != out[j - 1]).any(axis=-1)
        still_total += int(still.sum())
        changed += int((flips & still).sum())
    return {
        "psnr": 10 * np.log10(255**2 / max(mse, 1e-9)),
        "flicker": changed / max(1, still_total),
    }


# ---------------------------------------------------------------- main


def bench_case(
    name: str, src: Path, case: tuple[int, int, int, int], rounds: int, tmp: Path
) -> dict[str, Any]:
    w, h, colors, fps = case
    ours_gif, ff_gif = tmp / "ours.gif", tmp / "ffmpeg.gif"
    runs: dict[str, Callable[[], Any]] = {
        "ours": lambda: run_ours(src, ours_gif, w, h, colors, fps),
        "ffmpeg": lambda: run_ffmpeg(src, ff_gif, w, h, colors, fps),
        "decode": lambda: run_decode(src),
    }
    warm = {key: fn() for key, fn in runs.items()}  # warm-up; our frames are kept for quality
    med, cpu_med = interleaved_medians(runs, rounds)
    ours_rgb = warm["ours"].rgb()  # same frames as every timed run (deterministic)
    ref_t, refs = reference_frames(src, w, h)
    ours_q = quality(ours_rgb, fps, ref_t, refs)
    ff_q = quality(read_gif(ff_gif), fps, ref_t, refs)
    sheet = tmp / "sheet.png"
    animation = pixelate_video(src, width=w, height=h, colors=colors, fps=fps)
    animation.save_sheet(sheet)
    return {
        "clip": name,
        "case": f"{w}x{h}/{colors}c/{fps}fps",
        "frames": len(ours_rgb),
        "ours_s": med["ours"],
        "ffmpeg_s": med["ffmpeg"],
        "decode_s": med["decode"],
        "ratio": med["ours"] / med["ffmpeg"],
        "rounds": rounds,
        "ours_cpu_s": cpu_med["ours"],
        "ffmpeg_cpu_s": cpu_med["ffmpeg"],
        "cpu_ratio": cpu_med["ours"] / cpu_med["ffmpeg"],
        "ours_psnr": ours_q["psnr"],
        "ffmpeg_psnr": ff_q["psnr"],
        "ours_flicker": ours_q["flicker"],
        "ffmpeg_flicker": ff_q["flicker"],
        "ours_gif_kb": ours_gif.stat().st_size / 1024,
        "ffmpeg_gif_kb": ff_gif.stat().st_size / 1024,
        "sheet_kb": sheet.stat().st_size / 1024,
        "sheet_frames": len(animation.frames),
    }


def peak_rss_mb(src: Path, w: int, h: int, colors: int, fps: int) -> float:
    """Peak RSS of a fresh process running the pipeline once.

    Read from ``VmHWM`` (the peak of the process's own address space): ``ru_maxrss`` of a
    child started from this process also counts the pages it shared with this (large)
    process before ``exec``, which once reported 828 MB for a 125 MB job.
    """
    code = (
        "import resource\n"
        "from pixelmotion.media import pixelate_video\n"
        f"pixelate_video({str(src)!r}, width={w}, height={h}, colors={colors}, fps={fps})\n"
        "try:\n"
        "    with open('/proc/self/status') as fh:\n"
        "        print(next(int(x.split()[1]) for x in fh if x.startswith('VmHWM:')))\n"
        "except (OSError, StopIteration):\n"
        "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def print_row(r: dict[str, Any]) -> None:
    print(
        f"{r['clip']:<24} {r['case']:<17} {r['frames']:>4}  "
        f"ours {r['ours_s']:.3f}s  ffmpeg {r['ffmpeg_s']:.3f}s  decode {r['decode_s']:.3f}s  "
        f"ratio {r['ratio']:.2f} (cpu {r['ours_cpu_s']:.2f}/{r['ffmpeg_cpu_s']:.2f}s = {r['cpu_ratio']:.2f}, "
        f"{r['rounds']} rounds)  PSNR {r['ours_psnr']:.2f}/{r['ffmpeg_psnr']:.2f} dB  "
        f"flicker {100 * r['ours_flicker']:.2f}%/{100 * r['ffmpeg_flicker']:.2f}%  "
        f"gif {r['ours_gif_kb']:.0f}/{r['ffmpeg_gif_kb']:.0f} KB  "
        f"sheet {r['sheet_kb']:.1f} KB ({r['sheet_frames']} fr)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the 64x64 case (default 5)")
    parser.add_argument(
        "--other-rounds", type=int, default=None, help="rounds of the larger cases (default: half, >= 3)"
    )
    parser.add_argument("--quick", action="store_true", help="only the 64x64 case")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keying-only", action="store_true", help="only the background-removal figures")
    args = parser.parse_args()
    if args.keying_only:
        keying_figures()
        return
    other_rounds = args.other_rounds if args.other_rounds is not None else max(3, args.rounds // 2)
    CACHE.mkdir(parents=True, exist_ok=True)
    clips = [reference_clip(), *real_clips()]
    more = more_real_clips()
    big = clip_1080p()
    cases = CASES[:1] if args.quick else CASES
    results = []
    started = time.perf_counter()
    load_before = os.getloadavg()
    loads = " ".join(f"{v:.2f}" for v in load_before)
    print(f"load average before: {loads} on {os.cpu_count()} CPUs")
    print("ours/ffmpeg figures: time (median), PSNR, flicker, GIF size; sheet = ours, fit=crop")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in clips:
            for case in cases:
                rounds = args.rounds if case == CASES[0] else other_rounds
                results.append(bench_case(name, path, case, rounds, Path(tmp)))
                print_row(results[-1])
        for name, path in more:
            results.append(bench_case(name, path, CASES[0], args.rounds, Path(tmp)))
            print_row(results[-1])
        results.append(bench_case(big[0], big[1], CASES[0], other_rounds, Path(tmp)))
        print_row(results[-1])
    rss = peak_rss_mb(big[1], 64, 64, 16, 24)
    print(f"peak RSS, {big[0]} → 64x64/16c/24fps: {rss:.0f} MB")
    keying = keying_figures()
    load_after = os.getloadavg()
    print(
        f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; "
        f"benchmark took {time.perf_counter() - started:.0f} s"
    )
    if args.json:
        summary = {
            "results": results,
            "peak_rss_mb": rss,
            "keying": keying,
            "load": [load_before, load_after],
        }
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
