"""Background removal figures on the emulator's key-colour clips (part of bench-pipeline).

Run alone: .venv/bin/python bench/keying.py   (about a minute; bench/pipeline.py runs it too)

For each imperfection of the key-colour scene on its own and all together, a 1280×720
24 fps 3 s clip is rendered, pixelated at 64×64 and 128×128 (fit=crop, 16 colours,
background=remove), and scored against the true matte (pixelmotion.media.keyscore): mask
IoU over all frames (and of the worst frame), opaque pixels within 40 levels of the key
colour, alpha flicker. Also: the CPU time of ``remove`` against ``keep`` on the same clip, and
``loop="trim"`` against the known period.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pixelmotion.media import pixelate_video
from pixelmotion.media.keyscore import downscale_matte, score
from pixelmotion.providers.emulator.keyscene import IMPERFECTIONS, PERIOD_FRAMES
from pixelmotion.providers.emulator.render import render_clip, true_matte

PROMPT = "a knight walking in place, on a plain flat green (#00ff00) background, static camera"
WIDTH, HEIGHT, FPS = 1280, 720, 24
SECONDS = 3
CASES: dict[str, tuple[str, ...]] = {name: (name,) for name in IMPERFECTIONS} | {"all": IMPERFECTIONS}
SIZES = (64, 128)


def _cpu(fn: Callable[[], object]) -> float:
    """CPU seconds of this process, all threads (a shared machine disturbs it less than
    wall time)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def keying_figures(rounds: int = 3) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for case, flaws in CASES.items():
            clip = render_clip(
                PROMPT,
                Path(tmp) / f"{case}.mp4",
                seconds=SECONDS,
                imperfections=flaws,
                width=WIDTH,
                height=HEIGHT,
                fps=FPS,
            )
            for size in SIZES:
                animation = pixelate_video(
                    clip, width=size, height=size, colors=16, fps=24, background="remove"
                )
                opaque = animation.frames != animation.transparent_index
                truth = [
                    downscale_matte(
                        true_matte(PROMPT, i, imperfections=flaws, width=WIDTH, height=HEIGHT, fps=FPS),
                        size,
                        size,
                    )
                    for i in range(len(opaque))
                ]
                figures = score(opaque, animation.rgb(), truth, (0, 255, 0)).as_dict()
                row: dict[str, Any] = {"case": case, "size": size, **figures}
                if case == "all":
                    run = functools.partial(pixelate_video, clip, width=size, height=size, colors=16, fps=24)
                    remove = functools.partial(run, background="remove")
                    row["removeCpuS"] = statistics.median(_cpu(remove) for _ in range(rounds))
                    row["keepCpuS"] = statistics.median(_cpu(run) for _ in range(rounds))
                    trimmed = pixelate_video(
                        clip, width=size, height=size, colors=16, fps=24, background="remove", loop="trim"
                    )
                    assert trimmed.loop is not None
                    row["trimFrames"], row["seam"] = trimmed.loop.frames, trimmed.loop.seam
                    row["period"] = PERIOD_FRAMES
                rows.append(row)
                print_row(row)
    return rows


def print_row(row: dict[str, Any]) -> None:
    extra = ""
    if "removeCpuS" in row:
        extra = (
            f"  CPU: remove {row['removeCpuS']:.2f} s vs keep {row['keepCpuS']:.2f} s;"
            f" trim {row['trimFrames']} frames (period {row['period']}), seam {row['seam']}"
        )
    print(
        f"keying {row['case']:>9} {row['size']:>3}px: IoU {row['iou']:.4f} (worst frame {row['minIou']:.4f}),"
        f" key-near opaque {row['keyNearPct']:.3f} %, alpha flicker {row['flickerPct']:.3f} %{extra}",
        flush=True,
    )


if __name__ == "__main__":
    keying_figures()
