"""Every bad input ends in a MediaError with the right code, never a bare library error."""

from __future__ import annotations

import os
import pickle
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from pixelmotion.media import MediaError, pixelate_video
from pixelmotion.media.errors import CODES


def _convert(path: Path) -> None:
    pixelate_video(path, width=32, height=32, colors=8, fps=24)


def _code(path: Path) -> str:
    with pytest.raises(MediaError) as caught:
        _convert(path)
    assert caught.value.code in CODES
    assert caught.value.message
    return caught.value.code


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_error_is_picklable() -> None:
    error = pickle.loads(pickle.dumps(MediaError("VIDEO_TRUNCATED", "cut")))
    assert (error.code, error.message) == ("VIDEO_TRUNCATED", "cut")


def test_missing_file(tmp_path: Path) -> None:
    assert _code(tmp_path / "nope.mp4") == "VIDEO_UNREADABLE"


def test_empty_file(tmp_path: Path) -> None:
    assert _code(_write(tmp_path / "empty.mp4", b"")) == "VIDEO_UNREADABLE"


def test_not_a_video(tmp_path: Path) -> None:
    assert _code(_write(tmp_path / "notes.mp4", b"hello, not a video\n" * 50)) == "VIDEO_UNREADABLE"


def test_png_is_not_a_video_stream_problem(tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "still.mp4"
    Image.new("RGB", (8, 8)).save(path, format="PNG")
    # A still image opens as a one-frame "video": it converts, it does not crash.
    animation = pixelate_video(path, width=8, height=8, colors=2, fps=24)
    assert len(animation.frames) >= 1


def test_audio_only(audio_only: Path) -> None:
    assert _code(audio_only) == "NO_VIDEO_STREAM"


def test_cut_before_index(clip: Path, tmp_path: Path) -> None:
    data = clip.read_bytes()  # index (moov) at the end: cutting loses it
    assert _code(_write(tmp_path / "cut.mp4", data[: len(data) // 2])) == "VIDEO_TRUNCATED"


def test_cut_right_after_index(faststart_clip: Path, tmp_path: Path) -> None:
    data = faststart_clip.read_bytes()
    end = data.index(b"mdat") + 4
    assert _code(_write(tmp_path / "cut.mp4", data[:end])) == "VIDEO_TRUNCATED"


@pytest.mark.parametrize("fraction", [0.5, 0.97])
def test_cut_mid_stream(faststart_clip: Path, tmp_path: Path, fraction: float) -> None:
    data = faststart_clip.read_bytes()
    cut = _write(tmp_path / "cut.mp4", data[: int(len(data) * fraction)])
    assert _code(cut) == "VIDEO_TRUNCATED"


def test_corrupt_stream(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    start = data.index(b"mdat") + 2000
    noise = np.random.default_rng(7).integers(0, 256, 40_000, dtype=np.uint8).tobytes()
    data[start : start + len(noise)] = noise
    assert _code(_write(tmp_path / "corrupt.mp4", bytes(data))) == "VIDEO_UNREADABLE"


def test_corrupt_codec_header(clip: Path, tmp_path: Path) -> None:
    data = bytearray(clip.read_bytes())
    at = data.index(b"avcC") + 8
    data[at : at + 32] = b"\xff" * 32
    assert _code(_write(tmp_path / "header.mp4", bytes(data))) == "VIDEO_UNREADABLE"


def _two_frame_clip(path: Path, width: int, height: int, last_ms: int) -> Path:
    with av.open(os.fspath(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        stream.codec_context.time_base = Fraction(1, 1000)
        for pts in (0, last_ms):
            image = np.zeros((height, width, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def test_absurd_length(tmp_path: Path) -> None:
    path = _two_frame_clip(tmp_path / "long.mp4", 64, 64, last_ms=3_600_000)
    assert _code(path) == "VIDEO_TOO_LARGE"


def test_absurd_dimensions(tmp_path: Path) -> None:
    path = _two_frame_clip(tmp_path / "wide.mp4", 16384, 16, last_ms=40)
    assert _code(path) == "VIDEO_TOO_LARGE"


@pytest.mark.parametrize(
    "options",
    [
        {"width": 0},
        {"width": 4096},
        {"height": -3},
        {"colors": 1},
        {"colors": 257},
        {"fps": 0},
        {"fps": 500},
        {"width": 12.5},
        {"dither": "atkinson"},
        {"fit": "zoom"},
        {"palette": "no-such-preset"},
        {"palette": ["#12345"]},
        {"palette": []},
    ],
)
def test_invalid_options(clip: Path, options: dict[str, object]) -> None:
    args: dict[str, object] = {"width": 32, "height": 32, "colors": 8, "fps": 24}
    args.update(options)
    with pytest.raises(MediaError) as caught:
        pixelate_video(clip, **args)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_OPTIONS"
