"""Fixed palettes: named presets and user-given lists of ``#rrggbb`` colours."""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt

from .errors import INVALID_OPTIONS, MediaError

MAX_COLORS = 256

PRESETS: dict[str, tuple[str, ...]] = {
    "pico8": (
        "#000000",
        "#1d2b53",
        "#7e2553",
        "#008751",
        "#ab5236",
        "#5f574f",
        "#c2c3c7",
        "#fff1e8",
        "#ff004d",
        "#ffa300",
        "#ffec27",
        "#00e436",
        "#29adff",
        "#83769c",
        "#ff77a8",
        "#ffccaa",
    ),
    "gameboy": ("#0f380f", "#306230", "#8bac0f", "#9bbc0f"),
    "nes": (
        "#000000",
        "#fcfcfc",
        "#f8f8f8",
        "#bcbcbc",
        "#7c7c7c",
        "#a4e4fc",
        "#3cbcfc",
        "#0078f8",
        "#0000fc",
        "#b8b8f8",
        "#6888fc",
        "#0058f8",
        "#0000bc",
        "#d8b8f8",
        "#9878f8",
        "#6844fc",
        "#4428bc",
        "#f8b8f8",
        "#f878f8",
        "#d800cc",
        "#940084",
        "#f8a4c0",
        "#f85898",
        "#e40058",
        "#a80020",
        "#f0d0b0",
        "#f87858",
        "#f83800",
        "#a81000",
        "#fce0a8",
        "#fca044",
        "#e45c10",
        "#881400",
        "#f8d878",
        "#f8b800",
        "#ac7c00",
        "#503000",
        "#d8f878",
        "#b8f818",
        "#00b800",
        "#007800",
        "#b8f8b8",
        "#58d854",
        "#00a800",
        "#006800",
        "#b8f8d8",
        "#58f898",
        "#00a844",
        "#005800",
        "#00fcfc",
        "#00e8d8",
        "#008888",
        "#004058",
        "#f8d8f8",
        "#787878",
    ),
    "cga": (
        "#000000",
        "#0000aa",
        "#00aa00",
        "#00aaaa",
        "#aa0000",
        "#aa00aa",
        "#aa5500",
        "#aaaaaa",
        "#555555",
        "#5555ff",
        "#55ff55",
        "#55ffff",
        "#ff5555",
        "#ff55ff",
        "#ffff55",
        "#ffffff",
    ),
    "grayscale4": ("#000000", "#555555", "#aaaaaa", "#ffffff"),
    "bw": ("#000000", "#ffffff"),
}

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")

Palette = npt.NDArray[np.uint8]


def parse_color(text: str) -> tuple[int, int, int]:
    """``"#ff8800"``, ``"ff8800"`` or ``"#f80"`` to an (r, g, b) tuple."""
    match = _HEX.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise MediaError(INVALID_OPTIONS, f"not a #rrggbb colour: {text!r}")
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def resolve_palette(spec: list[str] | tuple[str, ...] | str) -> Palette:
    """A preset name or a list of colours to a K×3 uint8 array (duplicates removed)."""
    if isinstance(spec, str):
        preset = PRESETS.get(spec.strip().lower())
        if preset is None:
            names = ", ".join(sorted(PRESETS))
            raise MediaError(INVALID_OPTIONS, f"unknown palette {spec!r} (presets: {names})")
        spec = preset
    if not isinstance(spec, list | tuple) or not spec:
        raise MediaError(INVALID_OPTIONS, "palette must be a preset name or a list of colours")
    colors: list[tuple[int, int, int]] = []
    for item in spec:
        color = parse_color(item)
        if color not in colors:
            colors.append(color)
    if len(colors) > MAX_COLORS:
        raise MediaError(INVALID_OPTIONS, f"a palette has at most {MAX_COLORS} colours")
    return np.array(colors, dtype=np.uint8).reshape(-1, 3)


def to_hex(palette: Palette) -> list[str]:
    """K×3 uint8 array to ``["#rrggbb", ...]``."""
    return [f"#{int(r):02x}{int(g):02x}{int(b):02x}" for r, g, b in palette.tolist()]
