"""render_clip: a real, deterministic H.264 clip per prompt."""

from __future__ import annotations

import hashlib
import pickle
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from pixelmotion.providers.emulator.render import render_clip

SIZE: dict[str, Any] = {"width": 320, "height": 180, "fps": 24, "seconds": 1}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_prompt_same_bytes_other_prompt_other_clip(tmp_path: Path) -> None:
    first = render_clip("a blue whale", tmp_path / "a.mp4", **SIZE)
    again = render_clip("a blue whale", tmp_path / "b.mp4", **SIZE)
    other = render_clip("a green dragon", tmp_path / "c.mp4", **SIZE)
    assert digest(first) == digest(again)
    assert digest(first) != digest(other)


def test_clip_has_the_asked_shape_and_moves(tmp_path: Path) -> None:
    path = render_clip("a bouncing ball", tmp_path / "clip.mp4", width=256, height=144, fps=12, seconds=2)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert (stream.width, stream.height, stream.format.name) == (256, 144, "yuv420p")
        assert stream.average_rate == Fraction(12)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]
        assert stream.time_base is not None
        duration = float(stream.duration * stream.time_base) if stream.duration else 0.0
    assert len(frames) == 24
    assert abs(duration - 2.0) < 0.1
    assert (frames[0] != frames[12]).mean() > 0.01
    # Bold, saturated colour: plenty of distinct colours to pixelate, not a grey mush.
    assert len({tuple(pixel) for pixel in frames[0].reshape(-1, 3)[::7]}) > 8


def test_render_clip_can_be_sent_to_a_process_pool() -> None:
    assert pickle.loads(pickle.dumps(render_clip)) is render_clip
