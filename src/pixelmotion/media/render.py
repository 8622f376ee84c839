"""``render_outputs``: the worker's one call (picklable, plain arguments, plain-dict result)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .animation import Animation
from .errors import INVALID_OPTIONS, MediaError
from .pixelate import pixelate_video

FORMATS = ("sheet", "gif", "json", "webp", "apng", "pngs")
GZIP_LEVEL = 6


def _write_gzip(path: Path, data: bytes) -> None:
    # mtime=0: the same animation always gives the same bytes.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as fh,
    ):
        fh.write(data)


def write_outputs(animation: Animation, out_dir: Path, formats: Sequence[str]) -> dict[str, str]:
    """Write the requested files; return their names relative to ``out_dir``.

    None of these formats has a play direction: a ``pingpong`` animation is written with
    its frames doubled (:meth:`Animation.unrolled`).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise MediaError(INVALID_OPTIONS, f"unknown output formats: {', '.join(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    animation = animation.unrolled()
    files: dict[str, str] = {}
    if "sheet" in formats:
        animation.save_sheet(out_dir / "sheet.png")
        files["sheet"], files["sheetJson"] = "sheet.png", "sheet.json"
    if "gif" in formats:
        animation.save_gif(out_dir / "animation.gif")
        files["gif"] = "animation.gif"
    if "webp" in formats:
        animation.save_webp(out_dir / "animation.webp")
        files["webp"] = "animation.webp"
    if "apng" in formats:
        animation.save_apng(out_dir / "animation.png")
        files["apng"] = "animation.png"
    if "pngs" in formats:
        animation.save_pngs(out_dir / "frames")
        files["pngs"] = "frames/"
    if "json" in formats:
        _write_gzip(out_dir / "frames.json.gz", animation.frames_json_bytes())
        files["frames"] = "frames.json.gz"
    indexed = json.dumps(animation.to_indexed_json(), separators=(",", ":")).encode("ascii")
    _write_gzip(out_dir / "frames.indexed.json.gz", indexed)
    files["indexed"] = "frames.indexed.json.gz"
    return files


def render_outputs(
    source: str | Path,
    out_dir: str | Path,
    *,
    width: int,
    height: int,
    colors: int,
    fps: int,
    dither: str = "none",
    fit: str = "crop",
    palette: list[str] | str | None = None,
    formats: Sequence[str] = ("sheet", "gif", "json"),
    background: str = "keep",
    key_color: str | None = None,
    loop: str = "none",
) -> dict[str, Any]:
    """Pixelate ``source`` and write the chosen formats into ``out_dir``.

    ``frames.indexed.json.gz`` is always written. Returns a JSON-ready summary; with
    ``background="remove"`` it has ``transparentIndex`` (palette entry 0, listed first in
    ``palette``, not counted within ``colors``) and ``keyColor`` (the key colour used); with
    a ``loop`` other than ``none``, ``loop``: ``{"mode", "start", "frames", "seam"}``
    (``seam``: the jump from the last frame back to the first over the median
    frame-to-frame difference, for ``trim``).
    """
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        raise MediaError(INVALID_OPTIONS, f"unknown output formats: {', '.join(unknown)}")
    animation = pixelate_video(
        source,
        width=width,
        height=height,
        colors=colors,
        fps=fps,
        dither=dither,
        fit=fit,
        palette=palette,
        background=background,
        key_color=key_color,
        loop=loop,
    )
    started = time.perf_counter()
    files = write_outputs(animation, Path(out_dir), formats)
    timings = dict(animation.timings_ms)
    timings["encode"] = round((time.perf_counter() - started) * 1000, 1)
    played = animation.unrolled()
    summary: dict[str, Any] = {
        "totalFrames": len(played.frames),
        "width": animation.width,
        "height": animation.height,
        "fps": animation.fps,
        "durationMs": played.duration_ms,
        "palette": animation.palette_hex(),
        "files": files,
        "timingsMs": timings,
        "source": animation.source.as_dict() if animation.source else None,
    }
    if animation.transparent_index is not None:
        summary["transparentIndex"] = animation.transparent_index
        summary["keyColor"] = animation.palette_hex()[animation.transparent_index]
    if animation.loop is not None:
        summary["loop"] = animation.loop.as_dict()
    return summary
