"""``render_outputs``: the worker's one call (picklable, plain arguments, plain-dict result)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixelmotion.jobs.options import OUTPUT_FORMATS
from pixelmotion.objects.keys import OUTPUT_FILES, PLAIN_FRAMES_FILE

from .animation import Animation
from .aseprite import save_aseprite
from .atlas import save_atlas_layouts
from .encode import save_indexed_png, sheet_pixels
from .errors import INVALID_OPTIONS, MediaError
from .framezip import save_frames_zip
from .godot import sprite_frames
from .pixelate import pixelate_video

GZIP_LEVEL = 6


def _write_gzip(path: Path, data: bytes) -> None:
    # mtime=0: the same animation always gives the same bytes.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as fh,
    ):
        fh.write(data)


def check_formats(formats: Sequence[str]) -> None:
    unknown = sorted(set(formats) - set(OUTPUT_FORMATS))
    if unknown:
        known = ", ".join(OUTPUT_FORMATS)
        raise MediaError(INVALID_OPTIONS, f"unknown output formats: {', '.join(unknown)} (known: {known})")


class _Outputs:
    """The files written so far, by result name (``OUTPUT_FILES`` names each file)."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.files: dict[str, str] = {}

    def target(self, output: str, name: str | None = None) -> Path:
        self.files[output] = name or OUTPUT_FILES[output]
        return self.out_dir / self.files[output]


def _write_exports(animation: Animation, formats: Sequence[str], out: _Outputs) -> None:
    """The editor and engine exports: each keeps the frames once and carries the direction."""
    frames, palette, delays = animation.frames, animation.palette, animation.delays_ms
    direction = animation.tag_direction
    if ("atlas" in formats or "godot" in formats) and "sheet" not in out.files:
        fill = animation.transparent_index or 0
        save_indexed_png(
            out.target("sheet"), sheet_pixels(frames, fill), palette, animation.transparent_index
        )
    if "atlas" in formats:
        out.target("sheetHash")
        out.target("sheetArray")
        save_atlas_layouts(out.out_dir, frames, delays, direction=direction)
    if "godot" in formats:
        n, h, w = frames.shape
        text = sprite_frames(n, w, h, delays, animation.fps, direction=direction)
        out.target("godot").write_text(text, encoding="utf-8")
    if "aseprite" in formats:
        save_aseprite(
            out.target("aseprite"),
            frames,
            palette,
            delays,
            transparent_index=animation.transparent_index,
            direction=direction,
        )


def write_outputs(
    animation: Animation, out_dir: Path, formats: Sequence[str], *, server: bool = True
) -> dict[str, str]:
    """Write the requested files; return their names relative to ``out_dir``, by result.

    The sheet and the editor/engine exports keep the frames once and carry the play
    direction (a tag); the formats without a direction (GIF, WebP, APNG, PNGs, zip, frames
    JSON) get a ``pingpong`` animation with its frames doubled (:meth:`Animation.unrolled`).
    ``server=False`` (the offline ``convert`` command): the frames JSON is written plain
    (``frames.json``) and the compact indexed form the server's API reads is left out.
    """
    check_formats(formats)
    out_dir.mkdir(parents=True, exist_ok=True)
    out = _Outputs(out_dir)
    if "sheet" in formats:
        animation.save_sheet(out.target("sheet"))
        out.target("sheetJson")  # save_sheet writes it beside the sheet
    _write_exports(animation, formats, out)
    animation = animation.unrolled()
    if "gif" in formats:
        animation.save_gif(out.target("gif"))
    if "webp" in formats:
        animation.save_webp(out.target("webp"))
    if "apng" in formats:
        animation.save_apng(out.target("apng"))
    if "pngs" in formats:
        animation.save_pngs(out.target("pngs"))
    if "zip" in formats:
        save_frames_zip(out.target("zip"), animation.frames, animation.palette, animation.transparent_index)
    if "json" in formats and not server:
        out.target("frames", PLAIN_FRAMES_FILE).write_bytes(animation.frames_json_bytes())
    elif "json" in formats:
        _write_gzip(out.target("frames"), animation.frames_json_bytes())
    if server:
        indexed = json.dumps(animation.to_indexed_json(), separators=(",", ":")).encode("ascii")
        _write_gzip(out.target("indexed"), indexed)
    return out.files


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
    check_formats(formats)
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
