"""Area-averaging downscale of decoded frames: one swscale call per frame, in C.

FFmpeg's swscale does the area average and the YUV to RGB conversion in one pass, straight
to the target size (``SWS_AREA``, with accurate rounding and full horizontal chroma
interpolation, which puts it within ~45 dB of an exact float area average of the full-size
RGB picture). One :class:`~av.video.reformatter.VideoReformatter` is reused for every frame.

``crop`` placements first copy the chosen rectangle (whole source pixels, aligned to the
chroma grid) into a reusable frame; a copy of the planes costs a fraction of the scale.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import Interpolation, VideoReformatter

from .geometry import Placement

ByteArray = npt.NDArray[np.uint8]

# Area average, rounding right, chroma interpolated at full horizontal resolution: without
# the last flag swscale averages chroma coarsely and loses up to ~14 dB against the exact
# area average on sharp colour edges (measured on the benchmark clips).
INTERPOLATION = Interpolation.AREA | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
# Frames of other pixel formats are converted to this one before cropping.
_CROP_FALLBACK = "yuv444p"


def _plane_view(plane: av.video.plane.VideoPlane, bytes_per_sample: int) -> ByteArray:
    """The plane as a (rows, bytes) array without padding bytes past its width."""
    rows = plane.height
    data = np.frombuffer(memoryview(plane), dtype=np.uint8, count=rows * plane.line_size)
    return data.reshape(rows, plane.line_size)[:, : plane.width * bytes_per_sample]


def _croppable(fmt: av.VideoFormat) -> int:
    """Bytes per sample if frames of ``fmt`` can be cropped plane by plane, else 0."""
    if not fmt.is_planar or fmt.is_rgb or fmt.is_bayer or fmt.has_palette or fmt.is_bit_stream:
        return 0
    planes = {c.plane for c in fmt.components}
    if len(planes) != len(fmt.components):
        return 0
    bits = {c.bits for c in fmt.components}
    if len(bits) != 1:
        return 0
    depth = bits.pop()
    return 1 if depth <= 8 else 2 if depth <= 16 else 0


class AreaScaler:
    """Turns the decoded frames of one stream into small RGB pictures (uint8, H×W×3, or
    H×W×4 with ``channels=4``: RGB plus a fourth byte to ignore, so that a pixel is one
    32-bit word).

    Built once per stream and reused for every frame; applies the fit placement (crop
    rectangle, letterbox padding).
    """

    def __init__(
        self, src_w: int, src_h: int, out_w: int, out_h: int, place: Placement, channels: int = 3
    ) -> None:
        if channels not in (3, 4):
            raise ValueError("channels must be 3 or 4")
        self.channels = channels
        self.format = "rgb24" if channels == 3 else "rgba"
        self.src_w, self.src_h = src_w, src_h
        self.out_w, self.out_h = out_w, out_h
        self.place = place
        self.reformatter = VideoReformatter()
        x0, y0 = round(place.src_x), round(place.src_y)
        x1 = max(x0 + 1, min(src_w, round(place.src_x + place.src_w)))
        y1 = max(y0 + 1, min(src_h, round(place.src_y + place.src_h)))
        self.rect = (x0, y0, x1, y1)
        self.cropping = self.rect != (0, 0, src_w, src_h)
        self._crop_frame: av.VideoFrame | None = None
        self._to_planar = VideoReformatter()

    def scale(self, frame: av.VideoFrame) -> ByteArray:
        """Area-average one frame into the target picture."""
        if self.cropping:
            frame = self._crop(frame)
        small = self.reformatter.reformat(
            frame,
            width=self.place.dst_w,
            height=self.place.dst_h,
            format=self.format,
            interpolation=INTERPOLATION,
            threads=1,
        )
        return self._pad(np.asarray(small.to_ndarray(), dtype=np.uint8))

    def _crop(self, frame: av.VideoFrame) -> av.VideoFrame:
        if (frame.width, frame.height) != (self.src_w, self.src_h):
            frame = self._to_planar.reformat(frame, width=self.src_w, height=self.src_h)
        bps = _croppable(frame.format)
        if not bps:
            frame = self._to_planar.reformat(frame, format=_CROP_FALLBACK, interpolation="POINT", threads=1)
            bps = 1
        fmt = frame.format
        # Align the rectangle's corner to the chroma grid (at most one source pixel off).
        fx = max(1, round(frame.width / max(1, fmt.chroma_width(frame.width))))
        fy = max(1, round(frame.height / max(1, fmt.chroma_height(frame.height))))
        x0, y0, x1, y1 = self.rect
        x0, y0 = x0 - x0 % fx, y0 - y0 % fy
        width, height = x1 - x0, y1 - y0
        target = self._crop_frame
        if target is None or (target.format.name, target.width, target.height) != (fmt.name, width, height):
            target = self._crop_frame = av.VideoFrame(width, height, fmt.name)
        for src_plane, dst_plane in zip(frame.planes, target.planes, strict=False):
            sx = max(1, round(frame.width / src_plane.width))
            sy = max(1, round(frame.height / src_plane.height))
            dst = _plane_view(dst_plane, bps)
            rows, cols = dst.shape
            left, top = (x0 // sx) * bps, y0 // sy
            src = _plane_view(src_plane, bps)[top : top + rows, left : left + cols]
            dst[: src.shape[0], : src.shape[1]] = src
        target.colorspace = frame.colorspace
        target.color_range = frame.color_range
        return target

    def _pad(self, small: ByteArray) -> ByteArray:
        p = self.place
        if (p.dst_w, p.dst_h) == (self.out_w, self.out_h):
            return small
        canvas = np.zeros((self.out_h, self.out_w, self.channels), dtype=np.uint8)
        canvas[p.dst_y : p.dst_y + p.dst_h, p.dst_x : p.dst_x + p.dst_w] = small
        return canvas
