"""Background removal on the emulator's key-colour clips, scored against their true matte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixelmotion.media import keying, pixelate_video
from pixelmotion.media.errors import MediaError
from pixelmotion.media.keyscore import downscale_matte, score
from pixelmotion.providers.emulator.render import render_clip, true_matte

PROMPT = "a small knight walking in place, on a plain flat green (#00ff00) background, static camera"
SOURCE: dict[str, Any] = {"width": 640, "height": 360, "fps": 24}
CASES = {
    "gradient": ("gradient",),
    "noise": ("noise",),
    "shadow": ("shadow",),
    "near_key": ("near_key",),
    "all": ("gradient", "noise", "shadow", "near_key"),
}


@pytest.fixture(scope="module")
def key_clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("key-clips")
    return {
        name: render_clip(PROMPT, folder / f"{name}.mp4", seconds=2, imperfections=flaws, **SOURCE)
        for name, flaws in CASES.items()
    }


@pytest.mark.parametrize("size", [64, 128])
@pytest.mark.parametrize("case", list(CASES))
def test_matte_matches_the_true_matte(key_clips: dict[str, Path], case: str, size: int) -> None:
    animation = pixelate_video(
        key_clips[case], width=size, height=size, colors=16, fps=24, background="remove"
    )
    assert animation.transparent_index == 0
    opaque = animation.frames != animation.transparent_index
    truth = [
        downscale_matte(true_matte(PROMPT, i, imperfections=CASES[case], **SOURCE), size, size)
        for i in range(len(opaque))
    ]
    figures = score(opaque, animation.rgb(), truth, (0, 255, 0))
    assert figures.iou >= 0.95, figures
    assert figures.key_near <= 0.005, figures
    assert figures.flicker <= 0.005, figures


def test_given_key_colour_is_matched_to_the_footage(key_clips: dict[str, Path]) -> None:
    # Said to be a darker green than it is: the keyer finds the real background near it.
    animation = pixelate_video(
        key_clips["all"], width=64, height=64, colors=8, fps=24, background="remove", key_color="#20c020"
    )
    assert np.abs(animation.palette[0].astype(int) - (0, 255, 0)).max() <= 24
    assert len(animation.palette) == 9  # 8 opaque colours + the transparent entry
    opaque = animation.frames != 0
    assert 0.05 < opaque.mean() < 0.5


def test_estimated_key_is_the_background_colour(key_clips: dict[str, Path]) -> None:
    animation = pixelate_video(key_clips["all"], width=64, height=64, colors=8, fps=24, background="remove")
    assert np.abs(animation.palette[0].astype(int) - (0, 255, 0)).max() <= 24


def test_keep_has_no_transparent_entry(key_clips: dict[str, Path]) -> None:
    animation = pixelate_video(key_clips["noise"], width=32, height=32, colors=8, fps=12)
    assert animation.transparent_index is None
    assert len(animation.palette) <= 8


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"background": "blur"}, "background must be"),
        ({"key_color": "#00ff00"}, "key_color needs background 'remove'"),
        ({"background": "remove", "key_color": "green"}, "not a #rrggbb colour"),
        ({"fit": "subject"}, "fit 'subject' needs background 'remove'"),
    ],
)
def test_bad_background_options_are_refused(
    key_clips: dict[str, Path], options: dict[str, str], message: str
) -> None:
    with pytest.raises(MediaError, match=message):
        pixelate_video(key_clips["noise"], width=32, height=32, colors=8, fps=12, **options)  # type: ignore[arg-type]


def test_hold_keeps_alpha_while_the_soft_alpha_wobbles() -> None:
    hold = keying.MatteHold()
    first = hold(np.array([[0.55, 0.45, 0.9]], dtype=np.float32))
    wobble = hold(np.array([[0.45, 0.55, 0.9]], dtype=np.float32))
    assert first.tolist() == wobble.tolist() == [[True, False, True]]
    moved = hold(np.array([[0.2, 0.8, 0.1]], dtype=np.float32))
    assert moved.tolist() == [[False, True, False]]


def test_background_model_follows_a_gradient() -> None:
    h, w = 60, 80
    frame = np.zeros((h, w, 4), dtype=np.uint8)
    ramp = np.linspace(-20, 20, w)[None, :] + np.linspace(-10, 10, h)[:, None]
    frame[..., 0] = np.clip(40 + ramp, 0, 255)
    frame[..., 1] = np.clip(200 + ramp, 0, 255)
    frame[..., 2] = 30
    frame[..., 3] = 255
    frame[20:40, 30:50, :3] = (220, 40, 200)  # a subject in the middle
    keyer = keying.Keyer(factor=1)
    keyer.prepare([frame])
    out = keyer(frame)
    assert out[20:40, 30:50, 3].min() == 255
    assert out[..., 3].sum() == 255 * 400


def test_lighting_change_over_time_stays_background() -> None:
    """The background model is fitted per frame: the key colour dimming by 20 % over the
    clip (and a gradient) never turns the background opaque, and the subject stays."""
    frames = []
    for i in range(20):
        light = 1.0 - 0.01 * i
        frame = np.zeros((64, 96, 4), dtype=np.uint8)
        ramp = np.linspace(-15, 15, 96)[None, :]
        frame[..., 1] = np.clip((235 + ramp) * light, 0, 255)
        frame[..., 0] = frame[..., 2] = 10
        frame[..., 3] = 255
        frame[24:48, 40:56, :3] = (200, 60, 180)
        frames.append(frame)
    keyer = keying.Keyer(factor=2)
    keyer.prepare(frames[:12])
    for frame in frames:
        out = keyer(frame)
        assert out.shape == (32, 48, 4)
        assert (out[..., 3] > 0).sum() == 8 * 12  # exactly the subject's 16×24 / (2×2)
