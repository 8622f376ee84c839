"""Decoding: frame counts by timestamp, rotation, fit, progress."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pixelmotion.media import pixelate_video
from pixelmotion.media.decode import DecodeOptions, Decoder, FrameSampler, mp4_box_overrun


def _count(path: Path, fps: int) -> int:
    animation = pixelate_video(path, width=16, height=16, colors=4, fps=fps)
    return len(animation.frames)


@pytest.mark.parametrize("fps", [12, 24, 30])
def test_frame_count_at_24(clip: Path, fps: int) -> None:
    assert _count(clip, fps) == round(2 * fps)


@pytest.mark.parametrize("fixture", ["ntsc_clip", "clip_60", "clip_25"])
@pytest.mark.parametrize("fps", [10, 24])
def test_frame_count_odd_rates(request: pytest.FixtureRequest, fixture: str, fps: int) -> None:
    path: Path = request.getfixturevalue(fixture)
    assert abs(_count(path, fps) - round(2 * fps)) <= 1


def test_upsampling_repeats_frames(clip: Path) -> None:
    animation = pixelate_video(clip, width=16, height=16, colors=8, fps=48)
    assert len(animation.frames) == 96
    assert all(np.array_equal(animation.frames[i], animation.frames[i + 1]) for i in (0, 2, 4))


def test_variable_frame_rate_picks_frame_on_screen(vfr_clip: Path) -> None:
    # Frame k has grey level 19*k and starts at these times (ms); 13 frames over ~2 s.
    starts = [0, 30, 50, 120, 400, 420, 450, 900, 1000, 1100, 1500, 1700, 1950]
    animation = pixelate_video(vfr_clip, width=8, height=8, colors=16, fps=10)
    assert len(animation.frames) == 20
    grey = animation.palette[animation.frames[:, 4, 4]][:, 0].astype(int)
    for i, level in enumerate(grey):
        shown = max(k for k, s in enumerate(starts) if s <= (i + 0.5) * 100)
        assert abs(level - 19 * shown) <= 3, (i, level, shown)


def test_sampler_slots() -> None:
    sampler = FrameSampler(fps=10)
    sampler.start = 0.0
    assert sampler.slots_before(0.0) == 0
    # Slots sample 0.05, 0.15, 0.25…; a frame starting at 0.25 owns the slot at 0.25.
    assert sampler.slots_before(0.25) == 2
    assert sampler.slots_before(0.26) == 1
    assert sampler.next_slot == 3
    assert sampler.total(2.0) == 20


def test_rotation_is_applied(rotated_clip: Path) -> None:
    animation = pixelate_video(rotated_clip, width=18, height=32, colors=16, fps=12, fit="stretch")
    assert animation.frames.shape[1:] == (32, 18)
    rgb = animation.rgb()[0].astype(int)
    # The synthetic scene's red grows downwards in the coded picture; the display matrix
    # turns it by 90° counter-clockwise, so red grows from left to right on screen.
    assert rgb[:, -4:, 0].mean() > rgb[:, :4, 0].mean() + 40


def test_rotation_matches_ffmpeg(rotated_clip: Path, tmp_path: Path) -> None:
    ffmpeg = pytest.importorskip("imageio_ffmpeg").get_ffmpeg_exe()
    if not shutil.which(ffmpeg) and not Path(ffmpeg).exists():
        pytest.skip("no ffmpeg binary")
    raw = tmp_path / "frame.rgb"
    subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-i",
            str(rotated_clip),
            "-frames:v",
            "1",
            "-vf",
            "scale=18:32:flags=area",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            str(raw),
        ],
        check=True,
    )
    theirs = np.frombuffer(raw.read_bytes(), np.uint8).reshape(32, 18, 3).astype(int)
    ours = pixelate_video(rotated_clip, width=18, height=32, colors=64, fps=12, fit="stretch")
    assert np.abs(ours.rgb()[0].astype(int) - theirs).mean() < 12


@pytest.mark.parametrize(("fit", "shape"), [("crop", (16, 16)), ("contain", (16, 16)), ("stretch", (16, 16))])
def test_fit_modes(clip: Path, fit: str, shape: tuple[int, int]) -> None:
    decoder = Decoder(clip, DecodeOptions(16, 16, 24, fit))
    try:
        first = next(iter(decoder.frames()))
    finally:
        decoder.close()
    assert first.shape == (*shape, 3)
    if fit == "contain":
        # 16:9 into a square: black bars above and below, picture in the middle.
        assert first[:3].max() == 0 and first[-3:].max() == 0
        assert first[8].max() > 0


def test_progress_is_monotonic(clip: Path) -> None:
    seen: list[float] = []
    pixelate_video(clip, width=16, height=16, colors=4, fps=24, progress=seen.append)
    assert seen and seen[-1] == 1.0
    assert all(a <= b for a, b in itertools.pairwise(seen))


def test_box_walk(clip: Path, tmp_path: Path) -> None:
    assert mp4_box_overrun(clip) is False
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:-10])
    assert mp4_box_overrun(cut) is True
    text = tmp_path / "x.txt"
    text.write_text("plain text file")
    assert mp4_box_overrun(text) is None


def _mjpeg_mkv(path: Path, later_side: int, frames: int = 3) -> Path:
    """A Matroska file declaring a 64×64 MJPEG stream whose frames after the third are
    ``later_side`` pixels square (issue 17, finding 6): built for real with PyAV."""
    import av

    out = av.open(str(path), "w", format="matroska")
    stream = out.add_stream("mjpeg", rate=12)
    stream.width, stream.height, stream.pix_fmt = 64, 64, "yuvj420p"
    small = av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="rgb24").reformat(
        format="yuvj420p"
    )
    for index in range(3):
        small.pts = index
        for packet in stream.encode(small):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = later_side, later_side, "yuvj420p"
    encoder.time_base = stream.codec_context.time_base
    big = np.full((later_side, later_side, 3), 200, np.uint8)
    large = av.VideoFrame.from_ndarray(big, format="rgb24").reformat(format="yuvj420p")
    for index in range(3, 3 + frames):
        large.pts = index
        for packet in encoder.encode(large):
            packet.stream = stream
            packet.pts = packet.dts = index
            out.mux(packet)
    out.close()
    return path


@pytest.mark.parametrize(
    ("later_side", "message"),
    [(4000, "larger than the video declares"), (96, "the frame size changes midway")],
)
def test_frames_larger_than_declared_stop_the_decoding(tmp_path: Path, later_side: int, message: str) -> None:
    """The limits were checked against the declared 64×64; a later 4000×4000 frame is
    refused by the decoder before it is allocated, a 96×96 one by our check: either way the
    decoding stops there with a coded error, never decoding the rest."""
    from pixelmotion.media import MediaError

    source = _mjpeg_mkv(tmp_path / "grows.mkv", later_side)
    decoder = Decoder(source, DecodeOptions(width=16, height=16, fps=12, fit="crop"))
    try:
        with pytest.raises(MediaError) as raised:
            for _ in decoder.frames():
                pass
    finally:
        decoder.close()
    assert raised.value.code == "VIDEO_UNREADABLE"
    assert message in raised.value.message
    assert decoder.decoded == 3  # the declared-size frames only


def test_frames_no_slot_samples_are_skipped_and_the_output_is_the_same(clip: Path) -> None:
    """At 12 fps from a 24 fps clip, output frame i shows source frame 2i + 1, as at 24 fps
    (where every frame is sampled, none skipped); the frames between need no decoding."""

    def decoded(fps: int) -> tuple[list[np.ndarray], Decoder]:
        decoder = Decoder(clip, DecodeOptions(width=32, height=18, fps=fps, fit="stretch"))
        try:
            return [frame.copy() for frame in decoder.frames()], decoder
        finally:
            decoder.close()

    every, at_24 = decoded(24)
    half, at_12 = decoded(12)
    assert at_24.skipped == 0 and at_12.skipped > 0
    assert at_12.decoded == at_24.decoded == 48  # a skipped frame still counts as present
    assert len(half) == 24 and len(every) == 48
    assert all(np.array_equal(half[i], every[2 * i + 1]) for i in range(24))
    assert not all(np.array_equal(half[i], half[i + 1]) for i in range(23))  # the scene moves
