"""Real H.264 clips made with PyAV (libx264), built once per test session."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from pixelmotion.media.synthetic import make_clip


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def clip(clip_dir: Path) -> Path:
    """320×180, 24 fps, 2 s (48 frames), index at the end (PyAV's default)."""
    return make_clip(clip_dir / "clip.mp4", width=320, height=180, fps=24, seconds=2)


@pytest.fixture(scope="session")
def faststart_clip(clip_dir: Path) -> Path:
    """Same scene with the index (moov) before the media data."""
    return make_clip(clip_dir / "fast.mp4", width=320, height=180, fps=24, seconds=2, faststart=True)


@pytest.fixture(scope="session")
def ntsc_clip(clip_dir: Path) -> Path:
    """29.97 fps, 2 s."""
    return make_clip(clip_dir / "ntsc.mp4", width=320, height=180, fps=Fraction(30000, 1001), seconds=2)


@pytest.fixture(scope="session")
def clip_60(clip_dir: Path) -> Path:
    return make_clip(clip_dir / "sixty.mp4", width=320, height=180, fps=60, seconds=2)


@pytest.fixture(scope="session")
def clip_25(clip_dir: Path) -> Path:
    return make_clip(clip_dir / "pal.mp4", width=320, height=180, fps=25, seconds=2)


@pytest.fixture(scope="session")
def rotated_clip(clip_dir: Path) -> Path:
    return make_clip(clip_dir / "rot.mp4", width=320, height=180, seconds=1, rotation=90)


@pytest.fixture(scope="session")
def vfr_clip(clip_dir: Path) -> Path:
    """Variable frame rate: frames at irregular times over 2 s (time base 1/1000)."""
    path = clip_dir / "vfr.mp4"
    times_ms = [0, 30, 50, 120, 400, 420, 450, 900, 1000, 1100, 1500, 1700, 1950]
    with av.open(os.fspath(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height = 160, 96
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.options = {"preset": "veryfast"}
        for i, t in enumerate(times_ms):
            image = np.full((96, 160, 3), (i * 19) % 256, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = t
            frame.time_base = Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.fixture(scope="session")
def audio_only(clip_dir: Path) -> Path:
    path = clip_dir / "audio.m4a"
    with av.open(os.fspath(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        stream.layout = "mono"
        samples = (np.sin(np.arange(44100) / 10) * 0.2).astype(np.float32)[None, :]
        for start in range(0, 44100, 1024):
            chunk = np.ascontiguousarray(samples[:, start : start + 1024])
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = 44100
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path
