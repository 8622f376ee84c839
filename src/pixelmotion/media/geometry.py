"""Where the target picture comes from: ``crop``, ``contain`` (letterbox) or ``stretch``."""

from __future__ import annotations

from dataclasses import dataclass

from pixelmotion.jobs.options import FITS

from .errors import INVALID_OPTIONS, MediaError


def check_fit(fit: str) -> None:
    if fit not in FITS:
        raise MediaError(INVALID_OPTIONS, f"fit must be one of {', '.join(FITS)}, not {fit!r}")


@dataclass(frozen=True)
class Placement:
    """A source rectangle (coded pixels, may be fractional) drawn into a target rectangle.

    Target pixels outside ``dst_*`` are padding (letterbox bars).
    """

    src_x: float
    src_y: float
    src_w: float
    src_h: float
    dst_x: int
    dst_y: int
    dst_w: int
    dst_h: int


def place(src_w: int, src_h: int, dst_w: int, dst_h: int, fit: str, pixel_aspect: float = 1.0) -> Placement:
    """Compute the placement of a ``src_w``×``src_h`` picture in a ``dst_w``×``dst_h`` one.

    ``pixel_aspect`` is the source's sample aspect ratio (1 for square pixels).
    """
    check_fit(fit)
    if fit == "stretch":
        return Placement(0.0, 0.0, float(src_w), float(src_h), 0, 0, dst_w, dst_h)
    display_w = src_w * pixel_aspect
    if fit == "crop":
        scale = max(dst_w / display_w, dst_h / src_h)
        crop_w = min(float(src_w), dst_w / scale / pixel_aspect)
        crop_h = min(float(src_h), dst_h / scale)
        return Placement((src_w - crop_w) / 2, (src_h - crop_h) / 2, crop_w, crop_h, 0, 0, dst_w, dst_h)
    scale = min(dst_w / display_w, dst_h / src_h)
    inner_w = min(dst_w, max(1, round(display_w * scale)))
    inner_h = min(dst_h, max(1, round(src_h * scale)))
    return Placement(
        0.0,
        0.0,
        float(src_w),
        float(src_h),
        (dst_w - inner_w) // 2,
        (dst_h - inner_h) // 2,
        inner_w,
        inner_h,
    )
