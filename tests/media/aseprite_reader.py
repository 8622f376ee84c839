"""A reader of ``.aseprite`` files for the tests, written from the public file spec
(``docs/ase-file-specs.md`` in the Aseprite repository), sharing no code with our writer.

It reads what a sprite needs to play: header, per-frame durations, palette (new chunk,
else the old one), layers, cels (raw, linked and zlib-compressed) and tags, and checks the
magic numbers and every size field on the way.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

DIRECTIONS = {0: "forward", 1: "reverse", 2: "pingpong", 3: "pingpong_reverse"}


@dataclass
class Layer:
    name: str
    flags: int
    opacity: int


@dataclass
class Tag:
    name: str
    start: int
    end: int
    direction: str


@dataclass
class Sprite:
    width: int
    height: int
    depth: int
    transparent_index: int
    color_count: int
    durations_ms: list[int] = field(default_factory=list)
    palette: list[tuple[int, int, int, int]] = field(default_factory=list)
    old_palette: list[tuple[int, int, int]] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    # cels[frame][layer] = (x, y, width, height, pixel bytes)
    cels: list[dict[int, tuple[int, int, int, int, bytes]]] = field(default_factory=list)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.stream = io.BytesIO(data)

    def take(self, fmt: str) -> tuple[int, ...]:
        size = struct.calcsize("<" + fmt)
        raw = self.stream.read(size)
        if len(raw) != size:
            raise ValueError("the file ends inside a field")
        return struct.unpack("<" + fmt, raw)

    def one(self, fmt: str) -> int:
        return self.take(fmt)[0]

    def text(self) -> str:
        length = self.one("H")
        return self.stream.read(length).decode("utf-8")

    def rest(self) -> bytes:
        return self.stream.read()


def read_aseprite(data: bytes) -> Sprite:
    top = _Bytes(data[:128])
    file_size, magic, frame_count, width, height, depth = top.take("IHHHHH")
    if magic != 0xA5E0:
        raise ValueError(f"bad file magic {magic:#x}")
    if file_size != len(data):
        raise ValueError(f"header says {file_size} bytes, file has {len(data)}")
    top.take("IHII")  # flags, deprecated speed, two zero DWORDs
    transparent_index = top.one("B")
    top.take("3B")
    color_count = top.one("H")
    sprite = Sprite(width, height, depth, transparent_index, color_count or 256)
    offset = 128
    for _ in range(frame_count):
        frame_size, frame_magic, old_chunks, duration = struct.unpack_from("<IHHH", data, offset)
        new_chunks = struct.unpack_from("<I", data, offset + 12)[0]
        if frame_magic != 0xF1FA:
            raise ValueError(f"bad frame magic {frame_magic:#x}")
        chunks = new_chunks if new_chunks else old_chunks
        sprite.durations_ms.append(duration)
        sprite.cels.append({})
        position = offset + 16
        for _ in range(chunks):
            chunk_size, chunk_type = struct.unpack_from("<IH", data, position)
            _read_chunk(sprite, chunk_type, data[position + 6 : position + chunk_size])
            position += chunk_size
        if position != offset + frame_size:
            raise ValueError("the chunks do not fill the frame")
        offset += frame_size
    if offset != len(data):
        raise ValueError("bytes after the last frame")
    return sprite


def _read_chunk(sprite: Sprite, kind: int, body: bytes) -> None:
    reader = _Bytes(body)
    if kind == 0x0004:
        index = 0
        for _ in range(reader.one("H")):
            skip, count = reader.take("BB")
            index += skip
            for _ in range(count or 256):
                sprite.old_palette.append(reader.take("BBB"))  # type: ignore[arg-type]
                index += 1
    elif kind == 0x2019:
        size, first, last = reader.take("III")
        reader.take("8B")
        entries = [(0, 0, 0, 255)] * size
        for i in range(first, last + 1):
            flags, r, g, b, a = reader.take("HBBBB")
            entries[i] = (r, g, b, a)
            if flags & 1:
                reader.text()
        sprite.palette = entries
    elif kind == 0x2004:
        flags = reader.one("H")
        reader.take("HHHHH")  # type, child level, default size, blend mode
        opacity = reader.one("B")
        reader.take("3B")
        sprite.layers.append(Layer(reader.text(), flags, opacity))
    elif kind == 0x2005:
        layer, x, y, _opacity, cel_type = reader.take("HhhBH")
        reader.take("7B")
        frame = sprite.cels[-1]
        if cel_type == 1:
            frame[layer] = sprite.cels[reader.one("H")][layer]
            return
        cel_w, cel_h = reader.take("HH")
        pixels = reader.rest()
        if cel_type == 2:
            pixels = zlib.decompress(pixels)
        if len(pixels) != cel_w * cel_h * sprite.depth // 8:
            raise ValueError("the cel's pixel data has the wrong size")
        frame[layer] = (x, y, cel_w, cel_h, pixels)
    elif kind == 0x2018:
        count = reader.one("H")
        reader.take("8B")
        for _ in range(count):
            start, end, direction = reader.take("HHB")
            reader.take("8B")
            reader.take("4B")  # colour and an extra byte
            sprite.tags.append(Tag(reader.text(), start, end, DIRECTIONS[direction]))
