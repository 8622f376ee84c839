"""Writers for an indexed animation: sprite sheet + JSON sidecar, GIF, WebP, APNG, PNGs,
and the two JSON forms (the plan's RGBA frames, and the compact indexed form).

``transparent``: the palette index that is fully transparent, or None. Each format carries
it its own way: GIF's transparency index, PNG's ``tRNS``, alpha in WebP, alpha 0 in the
frames JSON, ``transparentIndex`` in the indexed JSON.
"""

from __future__ import annotations

import base64
import json
import math
import os
import struct
import zlib
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

from .palettes import to_hex

IndexArray = npt.NDArray[np.uint8]
Palette = npt.NDArray[np.uint8]

APP = "pixelmotion"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# zlib level 9 up to this much pixel data; above, level 6 (9 takes 3–6× as long there for
# 1–2 % on footage: 0.8–1.8 s against 0.4 s for a 150-frame 256×256 sheet).
PNG_BEST_LIMIT = 4 << 20
VERSION = "1"
TAG_NAME = "animation"


def delays_ms(count: int, fps: int) -> list[int]:
    """Per-frame delays in ms that add up exactly to ``count / fps`` seconds."""
    return [round(1000 * (i + 1) / fps) - round(1000 * i / fps) for i in range(count)]


def delays_cs(count: int, fps: int) -> list[int]:
    """GIF delays (1/100 s) accumulated so the total matches the clip length."""
    return [round(100 * (i + 1) / fps) - round(100 * i / fps) for i in range(count)]


def _bits_for(colors: int) -> int:
    for bits in (1, 2, 4):
        if colors <= 1 << bits:
            return bits
    return 8


def _indexed_image(indices: IndexArray, palette: Palette, transparent: int | None = None) -> Image.Image:
    image = Image.fromarray(np.ascontiguousarray(indices), "P")
    image.putpalette(palette.reshape(-1).tolist(), rawmode="RGB")
    if transparent is not None:
        image.info["transparency"] = transparent
    return image


def rgba_palette(palette: Palette, transparent: int | None) -> npt.NDArray[np.uint8]:
    """K×4 RGBA: every entry opaque but ``transparent``."""
    table = np.concatenate([palette, np.full((len(palette), 1), 255, np.uint8)], axis=1)
    if transparent is not None:
        table[transparent, 3] = 0
    return table


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pack_rows(indices: IndexArray, bits: int) -> IndexArray:
    """H×W indices (each < 2**bits) as H rows of PNG samples, most significant bits first."""
    if bits == 8:
        return np.ascontiguousarray(indices, dtype=np.uint8)
    per_byte = 8 // bits
    h, w = indices.shape
    padded = np.zeros((h, -(-w // per_byte) * per_byte), dtype=np.uint8)
    padded[:, :w] = indices
    groups = padded.reshape(h, -1, per_byte)
    out = np.zeros(groups.shape[:2], dtype=np.uint8)
    for j in range(per_byte):
        out |= groups[:, :, j] << (8 - bits * (j + 1))
    return out


def indexed_png_bytes(indices: IndexArray, palette: Palette, transparent: int | None = None) -> bytes:
    """An indexed-colour PNG at the smallest bit depth that holds the palette.

    Written here rather than by Pillow: no row filter (the PNG filters only hurt palette
    indices; measured on the benchmark clips) and zlib level 9 over the whole image (6 for
    very large ones), which comes out 9–35 % smaller than Pillow's ``optimize=True``.
    """
    h, w = indices.shape
    bits = _bits_for(len(palette))
    rows = pack_rows(indices, bits)
    raw = np.zeros((h, rows.shape[1] + 1), dtype=np.uint8)  # filter byte 0 (none) per row
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", w, h, bits, 3, 0, 0, 0)  # colour type 3: indexed
    chunks = [
        PNG_SIGNATURE,
        _png_chunk(b"IHDR", header),
        _png_chunk(b"PLTE", np.ascontiguousarray(palette, dtype=np.uint8).tobytes()),
    ]
    if transparent is not None:
        # tRNS: one alpha per entry up to the last non-opaque one (the rest are opaque).
        chunks.append(_png_chunk(b"tRNS", b"\xff" * transparent + b"\x00"))
    chunks.append(_png_chunk(b"IDAT", zlib.compress(raw.tobytes(), 9 if raw.size <= PNG_BEST_LIMIT else 6)))
    chunks.append(_png_chunk(b"IEND", b""))
    return b"".join(chunks)


def save_indexed_png(
    path: Path, indices: IndexArray, palette: Palette, transparent: int | None = None
) -> None:
    """An indexed-colour PNG at the smallest bit depth that holds the palette."""
    path.write_bytes(indexed_png_bytes(indices, palette, transparent))


def sheet_grid(count: int, width: int, height: int) -> tuple[int, int]:
    """(columns, rows) of a sheet close to square."""
    columns = max(1, min(count, math.ceil(math.sqrt(count * height / width))))
    return columns, math.ceil(count / columns)


def sheet_pixels(frames: IndexArray, fill: int = 0) -> IndexArray:
    """Tile N×H×W frames left to right, top to bottom (unused cells are index ``fill``)."""
    n, h, w = frames.shape
    columns, rows = sheet_grid(n, w, h)
    padded = np.full((rows * columns, h, w), fill, dtype=np.uint8)
    padded[:n] = frames
    grid = padded.reshape(rows, columns, h, w).transpose(0, 2, 1, 3)
    return np.ascontiguousarray(grid.reshape(rows * h, columns * w))


TAG_DIRECTIONS = ("forward", "reverse", "pingpong")


def sheet_metadata(
    frames: IndexArray,
    delays: Sequence[int],
    image_name: str,
    layout: str = "hash",
    *,
    direction: str = "forward",
    index_names: bool = False,
) -> dict[str, Any]:
    """The TexturePacker/Aseprite JSON ("hash" or "array" layout) of a sheet.

    Frames are named ``frame_0000``…, or with ``index_names`` ``0``, ``1``… as Aseprite names
    them with ``--filename-format {frame}`` (what Phaser's ``createFromAseprite`` looks up).
    """
    n, h, w = frames.shape
    columns, rows = sheet_grid(n, w, h)
    entries = []
    for i in range(n):
        x, y = (i % columns) * w, (i // columns) * h
        entries.append(
            {
                "filename": str(i) if index_names else f"frame_{i:04d}",
                "frame": {"x": x, "y": y, "w": w, "h": h},
                "rotated": False,
                "trimmed": False,
                "spriteSourceSize": {"x": 0, "y": 0, "w": w, "h": h},
                "sourceSize": {"w": w, "h": h},
                "duration": int(delays[i]),
            }
        )
    frames_field: Any = entries
    if layout == "hash":
        frames_field = {e.pop("filename"): e for e in entries}
    return {
        "frames": frames_field,
        "meta": {
            "app": APP,
            "version": VERSION,
            "image": image_name,
            "format": "I8",
            "size": {"w": columns * w, "h": rows * h},
            "scale": "1",
            "frameTags": [{"name": TAG_NAME, "from": 0, "to": n - 1, "direction": direction}],
        },
    }


def save_sheet(
    path: Path,
    frames: IndexArray,
    palette: Palette,
    delays: Sequence[int],
    layout: str = "hash",
    *,
    transparent: int | None = None,
    direction: str = "forward",
) -> Path:
    """Write the sheet PNG and its JSON sidecar (same name, ``.json``); return the sidecar.

    With a ``transparent`` index, unused cells are transparent too.
    """
    fill = transparent if transparent is not None else 0
    save_indexed_png(path, sheet_pixels(frames, fill), palette, transparent)
    sidecar = path.with_suffix(".json")
    meta = sheet_metadata(frames, delays, path.name, layout, direction=direction)
    sidecar.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return sidecar


def _frame_images(frames: IndexArray, palette: Palette, transparent: int | None = None) -> list[Image.Image]:
    return [_indexed_image(f, palette, transparent) for f in frames]


def _argb_palette(palette: Palette) -> npt.NDArray[np.uint8]:
    """The 256×4 (A, R, G, B) palette PyAV wants for ``pal8`` frames: our colours opaque,
    unused entries fully transparent (FFmpeg's GIF encoder then codes pixels that did not
    change since the previous frame with the first of those)."""
    table = np.zeros((256, 4), dtype=np.uint8)
    table[: len(palette), 0] = 255
    table[: len(palette), 1:] = palette
    return table


def save_gif(
    path: Path, frames: IndexArray, palette: Palette, fps: int, transparent: int | None = None
) -> None:
    """Looping GIF; delays accumulated in 1/100 s so the total length is exact.

    Written by FFmpeg's GIF encoder and muxer through PyAV (C, LZW at the palette's bit
    depth, unchanged pixels as transparency, each frame cropped to what changed). With a
    ``transparent`` entry (alpha 0 in the palette) FFmpeg makes it the GIF's transparency
    index and disposes each frame to the background, so pixels that turn transparent clear.
    """
    n, h, w = frames.shape
    table = _argb_palette(palette)
    if transparent is not None:
        table[transparent, 0] = 0
    delays = delays_cs(n, fps)
    with av.open(os.fspath(path), mode="w", format="gif") as container:
        stream = container.add_stream("gif", rate=fps)
        stream.width, stream.height = w, h
        stream.pix_fmt = "pal8"
        stream.codec_context.time_base = Fraction(1, 100)
        pts = 0
        for i in range(n):
            # PyAV takes an (indices, palette) pair for pal8; its stub only knows arrays.
            pair: Any = (np.ascontiguousarray(frames[i]), table)
            frame = av.VideoFrame.from_ndarray(pair, format="pal8")
            frame.pts, frame.duration = pts, delays[i]
            frame.time_base = Fraction(1, 100)
            pts += delays[i]
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def save_webp(
    path: Path, frames: IndexArray, palette: Palette, delays: Sequence[int], transparent: int | None = None
) -> None:
    """Lossless animated WebP (RGBA when there is a ``transparent`` entry)."""
    if transparent is None:
        images = [Image.fromarray(palette[f], "RGB") for f in frames]
    else:
        table = rgba_palette(palette, transparent)
        images = [Image.fromarray(table[f], "RGBA") for f in frames]
    _save_animated(path, images, delays, format="WEBP", lossless=True, quality=50, method=4)


def save_apng(
    path: Path, frames: IndexArray, palette: Palette, delays: Sequence[int], transparent: int | None = None
) -> None:
    """Animated PNG (indexed colour, ``tRNS`` for a ``transparent`` entry; each frame
    replaces the canvas, blend "source", so pixels that turn transparent clear)."""
    images = _frame_images(frames, palette, transparent)
    _save_animated(path, images, delays, format="PNG", default_image=False, disposal=0, blend=0)


def _save_animated(path: Path, images: list[Image.Image], delays: Sequence[int], **options: Any) -> None:
    """Every frame, each shown for its delay, looping forever; ``options`` are the format's."""
    images[0].save(path, save_all=True, append_images=images[1:], duration=list(delays), loop=0, **options)


def save_pngs(
    directory: Path, frames: IndexArray, palette: Palette, transparent: int | None = None
) -> list[Path]:
    """One indexed PNG per frame: ``0000.png``, ``0001.png``…"""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, frame in enumerate(frames):
        target = directory / f"{i:04d}.png"
        save_indexed_png(target, frame, palette, transparent)
        paths.append(target)
    return paths


def frames_json(
    frames: IndexArray, palette: Palette, delays: Sequence[int], fps: int, transparent: int | None = None
) -> dict[str, Any]:
    """The plan's frames JSON: RGBA ``imageData`` per frame (alpha 0 where transparent)."""
    n, h, w = frames.shape
    rgba = rgba_palette(palette, transparent)
    return {
        "width": w,
        "height": h,
        "fps": fps,
        "palette": to_hex(palette),
        "frames": [
            {"imageData": rgba[frames[i]].reshape(-1).tolist(), "delayMs": int(delays[i])} for i in range(n)
        ],
    }


def frames_json_bytes(
    frames: IndexArray, palette: Palette, delays: Sequence[int], fps: int, transparent: int | None = None
) -> bytes:
    """``json.dumps(frames_json(...), separators=(",", ":"))``, built much faster."""
    n, h, w = frames.shape
    pixel_text = [f"{r},{g},{b},{a}" for r, g, b, a in rgba_palette(palette, transparent).tolist()]
    head = json.dumps(
        {"width": w, "height": h, "fps": fps, "palette": to_hex(palette)},
        separators=(",", ":"),
    )[:-1]
    parts = [head, ',"frames":[']
    for i in range(n):
        if i:
            parts.append(",")
        data = ",".join([pixel_text[k] for k in frames[i].reshape(-1).tolist()])
        parts.append(f'{{"imageData":[{data}],"delayMs":{int(delays[i])}}}')
    parts.append("]}")
    return "".join(parts).encode("ascii")


def indexed_json(
    frames: IndexArray, palette: Palette, delays: Sequence[int], fps: int, transparent: int | None = None
) -> dict[str, Any]:
    """Compact form: palette, delays and base64 of each frame's H×W index bytes;
    ``transparentIndex`` when an entry is transparent."""
    n, h, w = frames.shape
    out: dict[str, Any] = {
        "width": w,
        "height": h,
        "fps": fps,
        "palette": to_hex(palette),
        "delaysMs": [int(d) for d in delays],
        "frames": [base64.b64encode(frames[i].tobytes()).decode("ascii") for i in range(n)],
    }
    if transparent is not None:
        out["transparentIndex"] = transparent
    return out


def ensure_parent(path: str | os.PathLike[str]) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    return target
