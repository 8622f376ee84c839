"""``render_outputs``: the worker's one call (picklable, plain arguments, plain-dict result)."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pixelmotion.jobs.options import OUTPUT_FORMATS
from pixelmotion.objects.keys import OUTPUT_FILES

from .animation import Animation
from .errors import INVALID_OPTIONS, MediaError
from .pixelate import pixelate_video

GZIP_LEVEL = 6


def _write_gzip(path: Path, data: bytes) -> None:
    # mtime=0: the same animation always gives the same bytes.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=GZIP_LEVEL, mtime=0) as fh,
    ):
        fh.write(data)


def write_outputs(animation: Animation, out_dir: Path, formats: Sequence[str]) -> dict[str, str]:
    """Write the requested files; return their names relative to ``out_dir``, by result."""
    _check_formats(formats)
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}

    def target(output: str) -> Path:
        files[output] = OUTPUT_FILES[output]
        return out_dir / OUTPUT_FILES[output]

    if "sheet" in formats:
        animation.save_sheet(target("sheet"))
        target("sheetJson")  # save_sheet writes it beside the sheet
    if "gif" in formats:
        animation.save_gif(target("gif"))
    if "webp" in formats:
        animation.save_webp(target("webp"))
    if "apng" in formats:
        animation.save_apng(target("apng"))
    if "pngs" in formats:
        animation.save_pngs(target("pngs"))
    if "json" in formats:
        _write_gzip(target("frames"), animation.frames_json_bytes())
    indexed = json.dumps(animation.to_indexed_json(), separators=(",", ":")).encode("ascii")
    _write_gzip(target("indexed"), indexed)
    return files


def _check_formats(formats: Sequence[str]) -> None:
    unknown = sorted(set(formats) - set(OUTPUT_FORMATS))
    if unknown:
        raise MediaError(INVALID_OPTIONS, f"unknown output formats: {', '.join(unknown)}")


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
) -> dict[str, Any]:
    """Pixelate ``source`` and write the chosen formats into ``out_dir``.

    ``frames.indexed.json.gz`` is always written. Returns a JSON-ready summary.
    """
    _check_formats(formats)  # before the costly part
    animation = pixelate_video(
        source,
        width=width,
        height=height,
        colors=colors,
        fps=fps,
        dither=dither,
        fit=fit,
        palette=palette,
    )
    started = time.perf_counter()
    files = write_outputs(animation, Path(out_dir), formats)
    timings = dict(animation.timings_ms)
    timings["encode"] = round((time.perf_counter() - started) * 1000, 1)
    return {
        "totalFrames": len(animation.frames),
        "width": animation.width,
        "height": animation.height,
        "fps": animation.fps,
        "durationMs": animation.duration_ms,
        "palette": animation.palette_hex(),
        "files": files,
        "timingsMs": timings,
        "source": animation.source.as_dict() if animation.source else None,
    }
