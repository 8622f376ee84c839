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


KEY_PROMPT = "a knight walking in place, on a plain flat green (#00ff00) background, static camera"


def test_key_colour_is_read_from_the_prompt() -> None:
    from pixelmotion.providers.emulator.keyscene import key_colour_of

    assert key_colour_of(KEY_PROMPT) == (0, 255, 0)
    assert key_colour_of("a cat on a plain flat magenta (#ff00ff) background") == (255, 0, 255)
    assert key_colour_of("a cat in front of a green screen") == (0, 255, 0)
    assert key_colour_of("a bouncing ball") is None


def test_key_clip_shows_its_true_matte_on_the_key_colour(tmp_path: Path) -> None:
    import numpy as np

    from pixelmotion.providers.emulator.keyscene import PERIOD_FRAMES
    from pixelmotion.providers.emulator.render import true_matte

    size: dict[str, Any] = {"width": 320, "height": 180, "fps": 24}
    path = render_clip(KEY_PROMPT, tmp_path / "key.mp4", seconds=1, **size)
    with av.open(str(path)) as container:
        frames = [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]
    for index in (0, 7):
        matte = true_matte(KEY_PROMPT, index, **size)
        assert 0.03 < matte.mean() < 0.3
        background = frames[index][~matte]
        # The key colour, give or take the gradient, noise and shadow...
        assert np.median(np.abs(background - (0, 255, 0)).max(axis=1)) <= 30
        # ...and the subject clearly off it (the near-key body is ~64 levels away).
        inside = frames[index][matte]
        assert np.median(np.abs(inside - (0, 255, 0)).max(axis=1)) >= 50
    # The walk repeats exactly every PERIOD_FRAMES frames, and not before.
    assert (true_matte(KEY_PROMPT, 3, **size) == true_matte(KEY_PROMPT, 3 + PERIOD_FRAMES, **size)).all()
    assert (true_matte(KEY_PROMPT, 3, **size) != true_matte(KEY_PROMPT, 8, **size)).any()


def test_each_imperfection_can_be_left_out(tmp_path: Path) -> None:
    import numpy as np

    size: dict[str, Any] = {"width": 160, "height": 90, "fps": 24, "seconds": 1}
    clean = render_clip(KEY_PROMPT, tmp_path / "clean.mp4", imperfections=(), **size)
    with av.open(str(clean)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(int)
    corner = frame[:10, :10].reshape(-1, 3)
    assert np.abs(corner - (0, 255, 0)).max() <= 6  # flat: no gradient, no noise
