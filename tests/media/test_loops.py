"""Seamless loops on the pixel-art frames: trim to a whole number of periods, pingpong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelmotion.media import Animation, pixelate_video
from pixelmotion.media.errors import MediaError
from pixelmotion.media.loops import best_trim, frame_distances
from pixelmotion.providers.emulator.keyscene import PERIOD_FRAMES
from pixelmotion.providers.emulator.render import render_clip

PROMPT = "a knight walking in place on a plain flat green (#00ff00) background, static camera"
SOURCE_FPS = 24


@pytest.fixture(scope="module")
def walk_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render_clip(
        PROMPT,
        tmp_path_factory.mktemp("loops") / "walk.mp4",
        width=480,
        height=270,
        fps=SOURCE_FPS,
        seconds=3,
    )


def _median_step(animation: Animation) -> float:
    distances = frame_distances(animation.rgb())
    return float(np.median(np.diagonal(distances, offset=1)))


@pytest.mark.parametrize(("fps", "background"), [(24, "keep"), (24, "remove"), (12, "keep"), (12, "remove")])
def test_trim_keeps_whole_periods_with_a_seam_like_any_step(
    walk_clip: Path, fps: int, background: str
) -> None:
    period = PERIOD_FRAMES * fps / SOURCE_FPS
    animation = pixelate_video(
        walk_clip, width=64, height=64, colors=16, fps=fps, background=background, loop="trim"
    )
    assert animation.loop is not None
    length = len(animation.frames)
    assert length >= fps  # at least one second
    assert abs(length - period * round(length / period)) <= 1
    assert animation.loop.frames == length
    assert animation.loop.seam is not None
    assert animation.loop.seam <= 1.2
    # The seam figure is the real jump from the last frame back to the first.
    seam = float(np.sqrt(((animation.rgb()[-1].astype(float) - animation.rgb()[0]) ** 2).mean()))
    assert seam <= 1.2 * _median_step(animation) + 1e-6


def test_trim_prefers_continuing_motion_over_a_repeated_pose() -> None:
    # A pendulum: positions 0 1 2 3 2 1 0 1 2 ... Frame 3 = the turn. A run ending at a frame
    # equal to the one before the start but moving the other way must not win.
    positions = [0, 1, 2, 3, 2, 1] * 4
    frames = np.zeros((len(positions), 1, 8, 3), dtype=np.uint8)
    for i, p in enumerate(positions):
        frames[i, 0, p * 2 : p * 2 + 2] = 255
    distances = frame_distances(frames)
    _, count, seam = best_trim(distances, min_frames=5)
    assert count % 6 == 0
    assert seam <= 1.0 + 1e-6


def test_pingpong_sets_the_direction_and_keeps_the_frames(walk_clip: Path) -> None:
    plain = pixelate_video(walk_clip, width=32, height=32, colors=8, fps=12)
    animation = pixelate_video(walk_clip, width=32, height=32, colors=8, fps=12, loop="pingpong")
    assert animation.tag_direction == "pingpong"
    assert len(animation.frames) == len(plain.frames)
    unrolled = animation.unrolled()
    n = len(plain.frames)
    assert len(unrolled.frames) == 2 * n - 2
    assert (unrolled.frames[n] == animation.frames[n - 2]).all()
    assert (unrolled.frames[-1] == animation.frames[1]).all()


def test_unknown_loop_is_refused(walk_clip: Path) -> None:
    with pytest.raises(MediaError, match="loop must be one of"):
        pixelate_video(walk_clip, width=32, height=32, colors=8, fps=12, loop="forever")
