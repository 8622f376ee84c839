"""Animated images as input: WebP through Pillow, GIF and APNG through FFmpeg, one pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelmotion.media import Animation, MediaError, pixelate_video
from pixelmotion.media.webp import WebPDecoder, open_decoder

PALETTE = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], dtype=np.uint8)


@pytest.fixture(scope="module")
def source() -> Animation:
    frames = np.random.default_rng(1).integers(0, 4, (10, 40, 60), dtype=np.uint8)
    return Animation(frames, PALETTE, [100] * 10, 10)


@pytest.mark.parametrize("name", ["a.webp", "a.gif", "a.png"])
def test_animated_images_convert_frame_for_frame(source: Animation, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    {"a.webp": source.save_webp, "a.gif": source.save_gif, "a.png": source.save_apng}[name](path)
    result = pixelate_video(
        path, width=60, height=40, colors=4, fps=10, palette=["#000", "#f00", "#0f0", "#00f"]
    )
    assert np.array_equal(result.frames, source.frames)


def test_webp_frames_are_chosen_by_time(tmp_path: Path) -> None:
    """Frames of 100, 300 and 100 ms sampled at 20 fps: 2, 6 and 2 output frames."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    images = [Image.new("RGB", (8, 8), c) for c in colours]
    path = tmp_path / "timed.webp"
    images[0].save(path, save_all=True, append_images=images[1:], duration=[100, 300, 100], lossless=True)
    result = pixelate_video(path, width=4, height=4, colors=3, fps=20, palette=["#f00", "#0f0", "#00f"])
    assert result.frames[:, 0, 0].tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 2, 2]
    assert result.source is not None and result.source.codec == "webp" and result.source.duration_ms == 500


def test_a_broken_webp_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "bad.webp"
    path.write_bytes(b"RIFF\x10\x00\x00\x00WEBPVP8 garbage")
    with pytest.raises(MediaError) as caught:
        pixelate_video(path, width=8, height=8, colors=2, fps=10)
    assert caught.value.code == "VIDEO_UNREADABLE"


def test_only_webp_goes_to_pillow(source: Animation, tmp_path: Path) -> None:
    source.save_webp(tmp_path / "a.webp")
    source.save_gif(tmp_path / "a.gif")
    from pixelmotion.media.decode import DecodeOptions

    opts = DecodeOptions(8, 8, 10, "crop")
    webp, gif = open_decoder(tmp_path / "a.webp", opts), open_decoder(tmp_path / "a.gif", opts)
    assert isinstance(webp, WebPDecoder) and not isinstance(gif, WebPDecoder)
    webp.close()
    gif.close()
