"""fit "subject": the subject's box over the whole clip fills the canvas, bottom-centred."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pixelmotion.media import pixelate_video
from pixelmotion.media.errors import MediaError
from pixelmotion.media.geometry import SUBJECT_MARGIN, place, place_subject
from pixelmotion.providers.emulator.render import render_clip

PROMPT = "a knight walking in place on a plain flat green (#00ff00) background, static camera"


def test_place_subject_keeps_the_aspect_and_stands_on_the_ground_line() -> None:
    box = (400.0, 200.0, 500.0, 400.0)  # 100 × 200, inside a 1280 × 720 frame
    p = place_subject(box, 1280, 720, 64, 64)
    assert (p.dst_x, p.dst_y, p.dst_w, p.dst_h) == (0, 0, 64, 64)
    assert p.src_w == pytest.approx(p.src_h)  # square target, square source rectangle
    margin = SUBJECT_MARGIN * 200
    assert p.src_y + p.src_h == pytest.approx(400 + margin)  # feet one margin above the bottom
    assert p.src_x + p.src_w / 2 == pytest.approx(450)  # centred on the box
    assert p.src_h == pytest.approx(200 + 2 * margin)


def test_place_subject_pads_where_the_rectangle_leaves_the_frame() -> None:
    p = place_subject((0.0, 600.0, 100.0, 720.0), 1280, 720, 64, 64)
    assert p.src_x == 0 and p.src_y + p.src_h <= 720
    assert p.dst_x > 0  # the part left of the frame is padding (transparent)
    assert p.dst_y + p.dst_h < 64  # and so is the part below it


def test_fit_subject_needs_the_box() -> None:
    with pytest.raises(MediaError, match="needs the subject"):
        place(1280, 720, 64, 64, "subject")


@pytest.mark.parametrize("size", [(64, 64), (48, 64)])
def test_subject_fills_the_canvas_bottom_centred(tmp_path: Path, size: tuple[int, int]) -> None:
    # A wide shot: the subject is a small part of a 16:9 frame.
    clip = render_clip(PROMPT, tmp_path / "wide.mp4", width=640, height=360, fps=24, seconds=1)
    width, height = size
    animation = pixelate_video(
        clip, width=width, height=height, colors=16, fps=12, background="remove", fit="subject"
    )
    opaque = animation.frames != animation.transparent_index
    assert opaque.any(axis=(1, 2)).all()
    union = opaque.any(axis=0)
    rows, cols = np.flatnonzero(union.any(axis=1)), np.flatnonzero(union.any(axis=0))
    # Inside the canvas with a margin on every side (nothing touches an edge)...
    assert rows[0] > 0 and cols[0] > 0 and rows[-1] < height - 1 and cols[-1] < width - 1
    # ...on the ground line (one margin, a few pixels, above the bottom)...
    assert height - 1 - rows[-1] <= max(2, round(0.1 * height))
    # ...centred...
    assert abs((cols[0] + cols[-1]) / 2 - (width - 1) / 2) <= 1.0
    # ...and filling it: the subject's larger side spans most of the canvas.
    assert max(rows[-1] - rows[0] + 1, (cols[-1] - cols[0] + 1) * height / width) >= 0.8 * height
