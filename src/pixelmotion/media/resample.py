"""Area-averaging downscale of decoded frames, straight from the decoder's YUV planes.

Each plane (Y, and the smaller Cb/Cr planes) is box-filtered by Pillow's ``BOX`` resampler,
an exact area average over a fractional source rectangle, written in C. YUV to RGB is affine,
so converting the small averaged planes gives the same picture as averaging full-size RGB,
for a fraction of the work: no full-resolution colour conversion ever happens.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from .geometry import Placement

FloatArray = npt.NDArray[np.float32]
ByteArray = npt.NDArray[np.uint8]
Box = tuple[float, float, float, float]

# Planar 8-bit YUV layouts read directly (value: full range); others go through swscale.
_FAST_FORMATS = {
    "yuv420p": False,
    "yuv422p": False,
    "yuv444p": False,
    "yuvj420p": True,
    "yuvj422p": True,
    "yuvj444p": True,
}

# (Kr, Kb) of the colour matrices, by FFmpeg's AVColorSpace number.
_KR_KB = {1: (0.2126, 0.0722), 7: (0.212, 0.087), 9: (0.2627, 0.0593), 10: (0.2627, 0.0593)}
_BT601 = (0.299, 0.114)  # also swscale's choice for untagged video
_FULL_RANGE = 2  # AVCOL_RANGE_JPEG


def yuv_to_rgb(y: FloatArray, u: FloatArray, v: FloatArray, colorspace: int, full_range: bool) -> FloatArray:
    """Convert Y, Cb, Cr planes (same size) to an H×W×3 float RGB array (unclipped)."""
    kr, kb = _KR_KB.get(colorspace, _BT601)
    kg = 1.0 - kr - kb
    if full_range:
        luma, cb, cr = y, u - 128.0, v - 128.0
    else:
        luma = (y - 16.0) * (255.0 / 219.0)
        cb = (u - 128.0) * (255.0 / 224.0)
        cr = (v - 128.0) * (255.0 / 224.0)
    rgb = np.empty((*y.shape, 3), dtype=np.float32)
    rgb[..., 0] = luma + (2 - 2 * kr) * cr
    rgb[..., 1] = luma - (2 * kb * (1 - kb) / kg) * cb - (2 * kr * (1 - kr) / kg) * cr
    rgb[..., 2] = luma + (2 - 2 * kb) * cb
    return rgb


def _box_plane(plane: av.video.plane.VideoPlane, size: tuple[int, int], box: Box) -> FloatArray:
    data = np.frombuffer(memoryview(plane), dtype=np.uint8)
    image = Image.frombuffer("L", (plane.width, plane.height), data, "raw", "L", plane.line_size, 1)
    small = image.resize(size, Image.Resampling.BOX, box=box)
    return np.asarray(small, dtype=np.float32)


class AreaScaler:
    """Turns the decoded frames of one stream into small RGB pictures (uint8, H×W×3).

    Built once per stream and reused for every frame; applies the fit placement and the
    letterbox padding. Frames in pixel formats other than 8-bit planar YUV are converted to
    RGB by swscale first (slower, same result).
    """

    def __init__(self, src_w: int, src_h: int, out_w: int, out_h: int, place: Placement) -> None:
        self.src_w, self.src_h = src_w, src_h
        self.out_w, self.out_h = out_w, out_h
        self.place = place
        self.size = (place.dst_w, place.dst_h)
        self.box: Box = (place.src_x, place.src_y, place.src_x + place.src_w, place.src_y + place.src_h)

    def _plane_box(self, plane: av.video.plane.VideoPlane) -> Box:
        sx = plane.width / self.src_w
        sy = plane.height / self.src_h
        x0, y0, x1, y1 = self.box
        return (x0 * sx, y0 * sy, min(x1 * sx, plane.width), min(y1 * sy, plane.height))

    def scale(self, frame: av.VideoFrame) -> ByteArray:
        """Area-average one frame into the target picture."""
        full_range = _FAST_FORMATS.get(frame.format.name)
        if full_range is None or (frame.width, frame.height) != (self.src_w, self.src_h):
            rgb = self._scale_rgb(frame)
        else:
            y, u, v = (_box_plane(p, self.size, self._plane_box(p)) for p in frame.planes[:3])
            full = full_range or frame.color_range == _FULL_RANGE
            rgb = yuv_to_rgb(y, u, v, frame.colorspace, full)
        return self._pad(rgb)

    def _scale_rgb(self, frame: av.VideoFrame) -> FloatArray:
        rgb = frame.reformat(width=self.src_w, height=self.src_h, format="rgb24").to_ndarray()
        image = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), "RGB")
        small = image.resize(self.size, Image.Resampling.BOX, box=self.box)
        return np.asarray(small, dtype=np.float32)

    def _pad(self, rgb: FloatArray) -> ByteArray:
        small = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        p = self.place
        if (p.dst_w, p.dst_h) == (self.out_w, self.out_h):
            return np.asarray(small, dtype=np.uint8)
        canvas = np.zeros((self.out_h, self.out_w, 3), dtype=np.uint8)
        canvas[p.dst_y : p.dst_y + p.dst_h, p.dst_x : p.dst_x + p.dst_w] = small
        return canvas
