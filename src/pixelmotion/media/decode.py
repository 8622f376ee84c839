"""Open a video with PyAV, check it, and yield one small RGB picture per output frame.

Output frame ``i`` shows the source frame on screen at ``t0 + (i + 0.5) / fps``; frames are
chosen by timestamp *before* any conversion, so dropped source frames cost only decoding.
Only the last decoded frame is ever held at full resolution.
"""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import av.error
import numpy as np
import numpy.typing as npt

from .errors import (
    NO_VIDEO_STREAM,
    VIDEO_TOO_LARGE,
    VIDEO_TRUNCATED,
    VIDEO_UNREADABLE,
    MediaError,
)
from .geometry import place
from .resample import AreaScaler

ByteArray = npt.NDArray[np.uint8]

MAX_SOURCE_SIDE = 8192
MAX_SOURCE_PIXELS = 8192 * 4320
MAX_DURATION_S = 600.0
MAX_OUTPUT_FRAMES = 3600
# Skip H.264/HEVC deblocking when every output pixel averages at least this many source
# pixels per side: its effect nearly vanishes in the average (measured against fully decoded
# frames: -0.1 to -0.4 dB at 5.6×, 720p to 128×128; -1.4 dB at 2.8×, hence the limit), and
# it saves ~20-30 % of decode time.
FAST_DECODE_MIN_SCALE = 4.0
# Decoder threads (frame and slice threading): one more than the cores, as FFmpeg's own
# automatic count, so a core stays busy decoding while the caller's thread scales a frame
# (on 2 cores, 3 threads against 2: 3-13 % less wall time on five of the six benchmark clips,
# the sixth unchanged); at most 8.
DECODE_THREADS = max(2, min(8, (os.cpu_count() or 1) + 1))

_MP4_BRANDS = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot")


def _freeze_in_child() -> None:
    """After ``fork``: never collect the garbage inherited from the parent.

    A decoder's codec context owns FFmpeg threads. If one is only reachable from a reference
    cycle (an exception kept with its traceback, e.g. ``pytest.raises``) when the process
    forks, the child inherits the garbage but not the threads, and its garbage collector
    hangs for ever in ``avcodec_free_context`` joining them. Moving everything inherited to
    the permanent generation (``gc.freeze``, meant for exactly this moment) avoids that; the
    worker's process pool uses ``spawn`` and never gets here.
    """
    gc.freeze()


os.register_at_fork(after_in_child=_freeze_in_child)


@dataclass(frozen=True)
class SourceInfo:
    """What the container says about the video stream."""

    width: int
    height: int
    fps: float
    duration_ms: int
    codec: str
    declared_frames: int

    def as_dict(self) -> dict[str, object]:
        return {
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 3),
            "durationMs": self.duration_ms,
            "codec": self.codec,
        }


@dataclass(frozen=True)
class DecodeOptions:
    width: int
    height: int
    fps: int
    fit: str
    # The subject's box in coded source pixels, for fit "subject".
    subject: tuple[float, float, float, float] | None = None


def mp4_box_overrun(path: Path) -> bool | None:
    """For an MP4/MOV file: True if its top-level boxes run past the end of the file
    (the file was cut), False if they fit or stop being boxes (scrambled, not cut).
    None if the file is not MP4/MOV."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8 or head[4:8] not in _MP4_BRANDS:
            return None
        offset = 0
        while offset + 8 <= size:
            fh.seek(offset)
            header = fh.read(16)
            box_size = int.from_bytes(header[0:4], "big")
            if box_size == 1 and len(header) >= 16:
                box_size = int.from_bytes(header[8:16], "big")
            elif box_size == 0:
                return False
            if box_size < 8 or not _is_box_type(header[4:8]):
                return False  # not a box at all: the file is damaged, not cut short
            offset += box_size
        return offset > size


def _is_box_type(code: bytes) -> bool:
    """Box types are four printable ASCII characters (``moov``, ``mdat``, ``©nam`` aside)."""
    return len(code) == 4 and all(0x20 <= byte < 0x7F or byte == 0xA9 for byte in code)


def _open_error(path: Path, exc: Exception) -> MediaError:
    if path.stat().st_size == 0:
        return MediaError(VIDEO_UNREADABLE, "the file is empty")
    if mp4_box_overrun(path):
        return MediaError(VIDEO_TRUNCATED, "the MP4 file is cut short (its index is missing)")
    return MediaError(VIDEO_UNREADABLE, f"not a readable video file ({exc})")


def open_container(path: Path) -> av.container.InputContainer:
    """Open ``path`` for reading; any failure becomes a :class:`MediaError`."""
    if not path.is_file():
        raise MediaError(VIDEO_UNREADABLE, f"no such file: {path.name}")
    try:
        return av.open(os.fspath(path), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        raise _open_error(path, exc) from None


def probe(container: av.container.InputContainer) -> tuple[av.VideoStream, SourceInfo]:
    """Find the video stream and check its size and length against the limits."""
    if not container.streams.video:
        raise MediaError(NO_VIDEO_STREAM, "the file has no video stream")
    stream = container.streams.video[0]
    ctx = stream.codec_context
    width, height = int(ctx.width or 0), int(ctx.height or 0)
    if width <= 0 or height <= 0:
        raise MediaError(VIDEO_UNREADABLE, "the video stream has no picture size")
    if max(width, height) > MAX_SOURCE_SIDE or width * height > MAX_SOURCE_PIXELS:
        raise MediaError(VIDEO_TOO_LARGE, f"the video is {width}×{height}, too large")
    rate = stream.average_rate or stream.guessed_rate or Fraction(0)
    duration = _declared_duration(container, stream)
    if duration > MAX_DURATION_S:
        raise MediaError(VIDEO_TOO_LARGE, f"the video lasts {duration:.0f} s (limit {MAX_DURATION_S:.0f} s)")
    info = SourceInfo(
        width=width,
        height=height,
        fps=float(rate),
        duration_ms=round(duration * 1000),
        codec=ctx.name or "unknown",
        declared_frames=int(stream.frames or 0),
    )
    return stream, info


def _declared_duration(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


class FrameSampler:
    """Decides which decoded frames become output frames, by presentation time."""

    def __init__(self, fps: int) -> None:
        self.fps = fps
        self.start: float | None = None
        self.next_slot = 0

    def slots_before(self, t: float) -> int:
        """How many output slots (not yet filled) sample a time earlier than ``t``."""
        # Slot i samples t0 + (i + 0.5) / fps; it belongs to the frame shown then.
        count = max(0, self._last(t) - self.next_slot)
        self.next_slot += count
        return count

    def total(self, end: float) -> int:
        assert self.start is not None
        return max(1, round((end - self.start) * self.fps))

    def samples(self, t: float, until: float) -> bool:
        """Whether a frame on screen from ``t`` until ``until`` would fill any slot."""
        return self._last(until) > self._last(t)

    def _last(self, t: float) -> int:
        """One past the last slot sampling a time earlier than ``t``."""
        assert self.start is not None
        return math.ceil((t - self.start) * self.fps - 0.5 - 1e-6)


def _frame_time(frame: av.VideoFrame, index: int, rate: float) -> float:
    if frame.pts is not None and frame.time_base is not None:
        return float(frame.pts * frame.time_base)
    return index / rate


def _frame_duration(frame: av.VideoFrame, fallback: float) -> float:
    duration = getattr(frame, "duration", None)
    if duration and frame.time_base is not None:
        return float(duration * frame.time_base)
    return fallback


def _rotate(picture: ByteArray, rotation: int) -> ByteArray:
    turns = (rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(picture, k=turns)) if turns else picture


class Decoder:
    """Streams output pictures out of one video file."""

    def __init__(self, path: Path, opts: DecodeOptions) -> None:
        self.path = path
        self.opts = opts
        self.container = open_container(path)
        try:
            self.stream, self.info = probe(self.container)
        except BaseException:
            self.container.close()
            raise
        self.decoded = 0  # frames decoded or skipped: what a cut file falls short of
        self.sampler = FrameSampler(opts.fps)
        # Packets sent with skip_frame=NONREF, by pts: when their frame leaves the screen. A
        # packet whose frame the decoder skips never comes out and stays here.
        self._skippable: dict[int, float] = {}
        self.skipped = 0  # frames the decoder skipped (see _skip_unless_sampled)
        self.rotation = 0
        self.scaler: AreaScaler | None = None
        self.channels = 3
        self.end_time = 0.0

    def close(self) -> None:
        self.container.close()

    def _scaler(self, frame: av.VideoFrame) -> AreaScaler:
        rotation = round((frame.rotation or 0) / 90) * 90 % 360
        out_w, out_h = self.opts.width, self.opts.height
        if rotation in (90, 270):
            out_w, out_h = out_h, out_w
        sar = self.stream.sample_aspect_ratio
        aspect = float(sar) if sar else 1.0
        placement = place(frame.width, frame.height, out_w, out_h, self.opts.fit, aspect, self.opts.subject)
        self.rotation = rotation
        return AreaScaler(frame.width, frame.height, out_w, out_h, placement, self.channels)

    def _configure_decoder(self) -> None:
        ctx = self.stream.codec_context
        ctx.thread_type = "AUTO"
        ctx.thread_count = DECODE_THREADS
        # The decoder itself refuses a picture much larger than the container declared,
        # before allocating it (a 64×64 stream whose later frames are 16000×16000).
        options = {"max_pixels": str(declared_pixel_budget(self.info))}
        scale = min(self.info.width / self.opts.width, self.info.height / self.opts.height)
        if scale >= FAST_DECODE_MIN_SCALE and self.info.codec in ("h264", "hevc"):
            options["skip_loop_filter"] = "all"
        ctx.options = options

    def frames(
        self, progress: Callable[[float], None] | None = None, channels: int = 3
    ) -> Iterator[ByteArray]:
        """Yield exactly one picture per output frame, in order: H×W×3 RGB, or with
        ``channels=4`` H×W×4 (RGB and a byte to ignore).

        Each chosen frame is scaled as soon as it is decoded (one swscale call, without the
        GIL) while the decoder's own threads work ahead on the next ones.
        """
        self.channels = channels
        self._configure_decoder()
        for frame, count in self._chosen(progress):
            picture = self._picture(frame)
            for _ in range(count):
                yield picture

    def _picture(self, frame: av.VideoFrame) -> ByteArray:
        assert self.scaler is not None
        return _rotate(self.scaler.scale(frame), self.rotation)

    def _chosen(self, progress: Callable[[float], None] | None) -> Iterator[tuple[av.VideoFrame, int]]:
        """Yield (frame, number of output slots it fills), in order, by timestamp."""
        sampler = self.sampler
        rate = self.info.fps or float(self.opts.fps)
        held: av.VideoFrame | None = None
        held_time = 0.0
        total_hint = max(1e-3, self.info.duration_ms / 1000)
        for frame in self._decode():
            t = _frame_time(frame, self.decoded, rate)
            self.decoded += 1
            if held is None:
                sampler.start = t
                self.scaler = self._scaler(frame)
            elif t > held_time:
                count = sampler.slots_before(t)
                if count:
                    yield held, count
            held, held_time = frame, max(t, held_time)
            if progress is not None and sampler.start is not None:
                progress(min(1.0, (t - sampler.start) / total_hint))
        if held is None:
            if self._is_cut():
                raise MediaError(VIDEO_TRUNCATED, "the video file is cut before its first frame")
            raise MediaError(VIDEO_UNREADABLE, "no frame of the video could be decoded")
        self.skipped = len(self._skippable)
        self.decoded += self.skipped
        self.end_time = max([held_time + _frame_duration(held, 1.0 / rate), *self._skippable.values()])
        self._check_complete()
        remaining = sampler.total(self.end_time) - sampler.next_slot
        if remaining > 0:
            yield held, remaining

    def _decode(self) -> Iterator[av.VideoFrame]:
        error: MediaError | None = None
        try:
            for packet in self.container.demux(self.stream):
                self._skip_unless_sampled(packet)
                for frame in packet.decode():
                    if frame.pts is not None:
                        self._skippable.pop(frame.pts, None)  # decoded after all (a reference)
                    error = self._size_error(frame)
                    if error is not None:
                        break
                    yield frame  # type: ignore[misc]
                if error is not None:
                    break
        except (av.error.FFmpegError, ValueError, OSError) as exc:
            error = self._stream_error(exc)
        if error is not None:
            # Raised outside the handler and dropped from this frame as it leaves, so that no
            # frame → exception → traceback → frame cycle keeps the codec context (and its
            # decoding threads) alive until the garbage collector runs (see _freeze_in_child).
            try:
                raise error
            finally:
                error = None

    def _skip_unless_sampled(self, packet: av.Packet[av.VideoStream]) -> None:
        """Let the decoder skip this packet's frame if no output slot samples it and no other
        frame refers to it (``skip_frame`` NONREF; a frame others refer to is still decoded).
        Such frames are never seen, so the output is the same; at 12 fps from a 30 fps clip
        about a quarter of the frames need no decoding."""
        start, pts, duration, base = self.sampler.start, packet.pts, packet.duration, packet.time_base
        skip = False
        if start is not None and pts is not None and duration and base is not None and not packet.is_keyframe:
            t = float(pts * base)
            end = t + float(duration * base)
            skip = not self.sampler.samples(t, end)
            if skip:
                self._skippable[pts] = end
        self.stream.codec_context.skip_frame = "NONREF" if skip else "DEFAULT"

    def _size_error(self, frame: av.VideoFrame) -> MediaError | None:
        """Every frame must have the size the container declared (the limits were checked
        against it, and the scaler is built for it): decoding stops at the first that does not."""
        width, height = frame.width, frame.height
        if (width, height) == (self.info.width, self.info.height):
            return None
        if max(width, height) > MAX_SOURCE_SIDE or width * height > MAX_SOURCE_PIXELS:
            return MediaError(VIDEO_TOO_LARGE, f"a frame of the video is {width}×{height}, too large")
        return MediaError(
            VIDEO_UNREADABLE,
            f"the frame size changes midway ({self.info.width}×{self.info.height} to {width}×{height})",
        )

    def _stream_error(self, exc: Exception) -> MediaError:
        if self.decoded and isinstance(exc, av.error.ArgumentError):
            # What the decoder answers to a picture past max_pixels (see _configure_decoder).
            return MediaError(
                VIDEO_UNREADABLE,
                f"a frame after frame {self.decoded} is corrupt or larger than the video declares "
                f"({self.info.width}×{self.info.height})",
            )
        if mp4_box_overrun(self.path):
            return MediaError(VIDEO_TRUNCATED, "the video file is cut short")
        return MediaError(VIDEO_UNREADABLE, f"the video stream is corrupt ({exc})")

    def _is_cut(self) -> bool:
        return bool(mp4_box_overrun(self.path)) or self._missing_frames()

    def _missing_frames(self) -> bool:
        declared = self.info.declared_frames
        return declared > 0 and self.decoded < declared - max(1, declared // 100)

    def _check_complete(self) -> None:
        if self._is_cut():
            raise MediaError(
                VIDEO_TRUNCATED,
                f"the video file is cut short: {self.decoded} of {self.info.declared_frames or '?'} frames",
            )


def declared_pixel_budget(info: SourceInfo) -> int:
    """The most pixels the decoder may allocate for one picture: the declared size with room
    for codec alignment (up to 64 pixels a side), never above the source limit."""
    return min(MAX_SOURCE_PIXELS, (info.width + 64) * (info.height + 64))


def declared_output_frames(info: SourceInfo, opts: DecodeOptions) -> int:
    """How many output frames the container's declared duration gives."""
    return math.ceil(info.duration_ms / 1000 * opts.fps)


def check_output_size(info: SourceInfo, opts: DecodeOptions) -> None:
    """Refuse jobs whose output would not fit in memory."""
    frames = declared_output_frames(info, opts)
    if frames > MAX_OUTPUT_FRAMES:
        raise MediaError(VIDEO_TOO_LARGE, f"{frames} output frames (limit {MAX_OUTPUT_FRAMES})")
