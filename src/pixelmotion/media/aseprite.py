"""``animation.aseprite``: the native file of the Aseprite editor, written to its public spec
(``docs/ase-file-specs.md`` in the Aseprite repository).

Indexed colour (8 bits a pixel), our palette (the new 0x2019 chunk and the old 0x0004 one
for older readers), one layer, one zlib-compressed cel per frame with its duration in ms,
one tag over all frames with the animation's direction, and the transparent index in the
header. Without a transparent index the layer is a background layer, so index 0 stays
opaque (Aseprite treats the header's index as transparent on every other layer).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from .encode import TAG_DIRECTIONS, TAG_NAME
from .errors import INVALID_OPTIONS, MediaError

FILE_MAGIC = 0xA5E0
FRAME_MAGIC = 0xF1FA
OLD_PALETTE = 0x0004
LAYER = 0x2004
CEL = 0x2005
TAGS = 0x2018
PALETTE = 0x2019
# Layer flags: visible, editable, background.
VISIBLE, EDITABLE, BACKGROUND = 1, 2, 8
COMPRESSED_IMAGE = 2
TAG_COLOUR = (0, 0, 0)
ZLIB_LEVEL = 6


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<H", len(data)) + data


def _chunk(kind: int, data: bytes) -> bytes:
    return struct.pack("<IH", len(data) + 6, kind) + data


def _old_palette(palette: npt.NDArray[np.uint8]) -> bytes:
    count = len(palette)
    # One packet: skip 0 entries, then ``count`` colours (0 stands for 256).
    return struct.pack("<HBB", 1, 0, count % 256) + np.ascontiguousarray(palette).tobytes()


def _new_palette(palette: npt.NDArray[np.uint8]) -> bytes:
    count = len(palette)
    entries = np.zeros((count, 6), dtype=np.uint8)  # WORD flags (0: no name), R, G, B, A
    entries[:, 2:5] = palette
    entries[:, 5] = 255
    return struct.pack("<III8x", count, 0, count - 1) + entries.tobytes()


def _layer(width: int, height: int, background: bool) -> bytes:
    flags = VISIBLE | EDITABLE | (BACKGROUND if background else 0)
    name = "Background" if background else "Layer 1"
    # flags, type 0 (image), child level 0, default size, blend 0 (normal), opacity 255.
    return struct.pack("<HHHHHHB3x", flags, 0, 0, width, height, 0, 255) + _string(name)


def _tags(count: int, direction: str) -> bytes:
    head = struct.pack("<H8x", 1)
    tag = struct.pack("<HHBH6x3Bx", 0, count - 1, TAG_DIRECTIONS.index(direction), 0, *TAG_COLOUR)
    return head + tag + _string(TAG_NAME)


def _cel(frame: npt.NDArray[np.uint8]) -> bytes:
    height, width = frame.shape
    # layer 0 at (0, 0), opacity 255, compressed image, z-index 0.
    head = struct.pack("<HhhBHh5x", 0, 0, 0, 255, COMPRESSED_IMAGE, 0)
    pixels = zlib.compress(np.ascontiguousarray(frame).tobytes(), ZLIB_LEVEL)
    return head + struct.pack("<HH", width, height) + pixels


def _frame(duration_ms: int, chunks: Sequence[bytes]) -> bytes:
    body = b"".join(chunks)
    count = len(chunks)
    head = struct.pack("<IHHH2xI", len(body) + 16, FRAME_MAGIC, min(count, 0xFFFF), duration_ms, count)
    return head + body


def aseprite_bytes(
    frames: npt.NDArray[np.uint8],
    palette: npt.NDArray[np.uint8],
    delays_ms: Sequence[int],
    *,
    transparent_index: int | None = None,
    direction: str = "forward",
) -> bytes:
    """The whole ``.aseprite`` file of N×H×W palette indices."""
    count, height, width = frames.shape
    if direction not in TAG_DIRECTIONS:
        raise MediaError(INVALID_OPTIONS, f"tag direction must be one of {', '.join(TAG_DIRECTIONS)}")
    if not 1 <= len(palette) <= 256 or count > 0xFFFF or max(width, height) > 0xFFFF:
        raise MediaError(INVALID_OPTIONS, "the animation does not fit an Aseprite file")
    if transparent_index is not None and not 0 <= transparent_index < len(palette):
        raise MediaError(INVALID_OPTIONS, "the transparent index is not in the palette")
    background = transparent_index is None
    body = []
    for i in range(count):
        chunks = [_chunk(CEL, _cel(frames[i]))]
        if i == 0:
            chunks[:0] = [
                _chunk(OLD_PALETTE, _old_palette(palette)),
                _chunk(PALETTE, _new_palette(palette)),
                _chunk(LAYER, _layer(width, height, background)),
                _chunk(TAGS, _tags(count, direction)),
            ]
        body.append(_frame(int(delays_ms[i]), chunks))
    frames_data = b"".join(body)
    header = struct.pack(
        "<IHHHHHIHIIB3xHBB92x",
        128 + len(frames_data),
        FILE_MAGIC,
        count,
        width,
        height,
        8,  # bits a pixel: indexed
        1,  # flags: the layer opacity field is valid
        int(delays_ms[0]) if count else 0,  # deprecated speed field
        0,
        0,
        transparent_index or 0,
        len(palette),
        1,  # pixel width and height: square pixels
        1,
    )
    return header + frames_data


def save_aseprite(
    path: Path,
    frames: npt.NDArray[np.uint8],
    palette: npt.NDArray[np.uint8],
    delays_ms: Sequence[int],
    *,
    transparent_index: int | None = None,
    direction: str = "forward",
) -> None:
    path.write_bytes(
        aseprite_bytes(frames, palette, delays_ms, transparent_index=transparent_index, direction=direction)
    )
