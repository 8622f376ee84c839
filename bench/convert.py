"""``pixelmotion convert`` timings: the whole command per output format, on two clips.

Run: .venv/bin/python bench/convert.py [--rounds 3]   (about a minute; no network)

Clips, made here: the test suite's clip (``make_clip``: 320×180, 24 fps, 2 s, H.264 with
grain, what tests/test_cli_convert.py converts) and the emulator's 1280×720, 24 fps, 5 s clip
(what a job's provider returns). Each row is the median wall time of ``pixelmotion convert
CLIP -o DIR --size 64x64 --colors 16 --fps 12 --formats F`` as a subprocess (Python start-up
and imports included, ~1 s of it), and, in-process, the write time of F alone on the same
animation (``write_outputs``, median of the rounds).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine
from pixelmotion.media import pixelate_video
from pixelmotion.media.render import write_outputs
from pixelmotion.media.synthetic import make_clip
from pixelmotion.providers.emulator.render import render_clip

FORMATS = [
    "gif,sheet,json",
    "gif",
    "sheet",
    "json",
    "aseprite",
    "atlas",
    "godot",
    "webp",
    "apng",
    "zip",
    "pngs",
]
OPTIONS = ["--size", "64x64", "--colors", "16", "--fps", "12"]


def command_seconds(clip: Path, formats: str, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pixelmotion.cli",
                    "convert",
                    str(clip),
                    "-o",
                    out,
                    *OPTIONS,
                    "--formats",
                    formats,
                ],
                check=True,
                capture_output=True,
            )
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def write_ms(clip: Path, formats: str, rounds: int) -> float:
    animation = pixelate_video(clip, width=64, height=64, colors=16, fps=12)
    times = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            write_outputs(animation, Path(out), formats.split(","), server=False)
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    print(f"machine: {machine()}; median of {rounds} rounds")
    with tempfile.TemporaryDirectory() as tmp:
        clips = {
            "test clip 320×180 2 s": make_clip(
                Path(tmp) / "test.mp4", width=320, height=180, fps=24, seconds=2
            ),
            "emulator 1280×720 5 s": render_clip("a knight walking", Path(tmp) / "emulator.mp4"),
        }
        for name, clip in clips.items():
            print(f"\n{name}\n| --formats | convert (s) | write alone (ms) |\n| --- | ---: | ---: |")
            for formats in FORMATS:
                seconds = command_seconds(clip, formats, rounds)
                print(f"| {formats} | {seconds:.2f} | {write_ms(clip, formats, rounds):.1f} |", flush=True)


if __name__ == "__main__":
    main()
