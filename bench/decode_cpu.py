"""Decoding alone, CPU seconds per clip: the benchmark's ffmpeg against PyAV's FFmpeg.

The pipeline's time bar (ours at most 0.8 × ffmpeg's) depends on how fast each side decodes,
and the two decoders are different FFmpeg builds (imageio-ffmpeg's binary, PyAV's wheel), whose
relative speed differs from one CPU to another. This prints, per 720p clip of
``make bench-clips``, the median CPU time of decoding every frame: ffmpeg (``-f null``) with and
without deblocking, PyAV with the pipeline's threads with and without it (the pipeline skips
deblocking at 64×64), and ours (PyAV, deblocking skipped) over ffmpeg's (deblocking on).

Run: .venv/bin/python bench/decode_cpu.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import time
from pathlib import Path

import av

from clips import CACHE, ffmpeg_exe
from pixelmotion.media.decode import DECODE_THREADS

CLIPS = ("bikes", "bunny", "cup", "box", "vtest", "megamind")


def ffmpeg_cpu(path: Path, skip_loop_filter: bool) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    skip = ["-skip_loop_filter", "all"] if skip_loop_filter else []
    subprocess.run([ffmpeg_exe(), "-v", "error", *skip, "-i", str(path), "-f", "null", "-"], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def pyav_cpu(path: Path, skip_loop_filter: bool) -> float:
    """This process's CPU time (the decoder's threads included) to decode every frame."""
    started = time.process_time()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        stream.codec_context.thread_count = DECODE_THREADS
        if skip_loop_filter:
            stream.codec_context.options = {"skip_loop_filter": "all"}
        for _ in container.decode(stream):
            pass
    return time.process_time() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    libavcodec = ".".join(map(str, av.library_versions["libavcodec"]))
    print(f"ffmpeg: {Path(ffmpeg_exe()).name}; PyAV {av.__version__}, libavcodec {libavcodec}")
    print(f"{'clip':<9} {'ffmpeg':>8} {'ff skip':>8} {'PyAV':>8} {'PyAV skip':>10}  ours/ffmpeg")
    for clip in CLIPS:
        path = CACHE / f"{clip}-720p.mp4"
        if not path.exists():
            print(f"{clip:<9} missing (make bench-clips)")
            continue
        runs: dict[str, list[float]] = {"ff": [], "ff skip": [], "av": [], "av skip": []}
        for _ in range(args.rounds):  # interleaved, so a drift of the machine touches all four
            runs["ff"].append(ffmpeg_cpu(path, False))
            runs["ff skip"].append(ffmpeg_cpu(path, True))
            runs["av"].append(pyav_cpu(path, False))
            runs["av skip"].append(pyav_cpu(path, True))
        m = {name: statistics.median(values) for name, values in runs.items()}
        print(
            f"{clip:<9} {m['ff']:7.3f}s {m['ff skip']:7.3f}s {m['av']:7.3f}s {m['av skip']:9.3f}s"
            f"  {m['av skip'] / m['ff']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
