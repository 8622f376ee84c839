"""Where the target picture comes from: ``crop``, ``contain`` (letterbox), ``stretch``, or
``subject`` (the subject's box over the whole clip, anchored at the bottom centre)."""

from __future__ import annotations

from dataclasses import dataclass

from pixelmotion.jobs.options import FITS

from .errors import INVALID_OPTIONS, MediaError

# Space around the subject's box, as a share of its larger side (at least one source pixel).
SUBJECT_MARGIN = 0.06
Box = tuple[float, float, float, float]  # left, top, right, bottom in coded source pixels


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


def place(
    src_w: int,
    src_h: int,
    dst_w: int,
    dst_h: int,
    fit: str,
    pixel_aspect: float = 1.0,
    subject: Box | None = None,
) -> Placement:
    """Compute the placement of a ``src_w``×``src_h`` picture in a ``dst_w``×``dst_h`` one.

    ``pixel_aspect`` is the source's sample aspect ratio (1 for square pixels); ``subject``
    the subject's box, which ``fit="subject"`` needs (:func:`place_subject`).
    """
    check_fit(fit)
    if fit == "subject":
        if subject is None:
            raise MediaError(INVALID_OPTIONS, "fit 'subject' needs the subject's box")
        return place_subject(subject, src_w, src_h, dst_w, dst_h, pixel_aspect)
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


def place_subject(
    box: Box, src_w: int, src_h: int, dst_w: int, dst_h: int, pixel_aspect: float = 1.0
) -> Placement:
    """The target's aspect around ``box`` (plus a margin), the box's bottom on the target's
    ground line (one margin above the bottom edge) and its centre on the target's centre.

    Where that rectangle runs past the source frame, the target shows padding there.
    """
    left, top, right, bottom = box
    margin = max(1.0, SUBJECT_MARGIN * max(right - left, bottom - top))
    need_w = (right - left + 2 * margin) * pixel_aspect  # display pixels
    need_h = bottom - top + 2 * margin
    display_w = max(need_w, need_h * dst_w / dst_h)
    rect_h = display_w * dst_h / dst_w
    rect_w = display_w / pixel_aspect  # coded pixels
    rect_x = (left + right) / 2 - rect_w / 2
    rect_y = bottom + margin - rect_h
    # The part of the rectangle inside the source, and where it lands in the target.
    x0, y0 = max(0.0, rect_x), max(0.0, rect_y)
    x1, y1 = min(float(src_w), rect_x + rect_w), min(float(src_h), rect_y + rect_h)
    scale_x, scale_y = dst_w / rect_w, dst_h / rect_h
    dst_x = min(dst_w - 1, max(0, round((x0 - rect_x) * scale_x)))
    dst_y = min(dst_h - 1, max(0, round((y0 - rect_y) * scale_y)))
    inner_w = max(1, min(dst_w - dst_x, round((x1 - x0) * scale_x)))
    inner_h = max(1, min(dst_h - dst_y, round((y1 - y0) * scale_y)))
    return Placement(x0, y0, max(1.0, x1 - x0), max(1.0, y1 - y0), dst_x, dst_y, inner_w, inner_h)
