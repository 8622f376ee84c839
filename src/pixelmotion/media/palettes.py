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


def _listed(text: str) -> tuple[str, ...]:
    return tuple(f"#{code}" for code in text.split())


# Community palettes as published by their authors (the Lospec palette list names them so).
COMMUNITY_PRESETS: dict[str, tuple[str, ...]] = {
    # Sweetie 16 by GrafxKid.
    "sweetie-16": _listed(
        "1a1c2c 5d275d b13e53 ef7d57 ffcd75 a7f070 38b764 257179 "
        "29366f 3b5dc9 41a6f6 73eff7 f4f4f4 94b0c2 566c86 333c57"
    ),
    # DawnBringer's 16 and 32 colour palettes (DB32 is Aseprite's default palette).
    "dawnbringer-16": _listed(
        "140c1c 442434 30346d 4e4a4e 854c30 346524 d04648 757161 "
        "597dce d27d2c 8595a1 6daa2c d2aa99 6dc2ca dad45e deeed6"
    ),
    "dawnbringer-32": _listed(
        "000000 222034 45283c 663931 8f563b df7126 d9a066 eec39a "
        "fbf236 99e550 6abe30 37946e 4b692f 524b24 323c39 3f3f74 "
        "306082 5b6ee1 639bff 5fcde4 cbdbfc ffffff 9badb7 847e87 "
        "696a6a 595652 76428a ac3232 d95763 d77bba 8f974a 8a6f30"
    ),
    # ENDESGA 32 by ENDESGA.
    "endesga-32": _listed(
        "be4a2f d77643 ead4aa e4a672 b86f50 733e39 3e2731 a22633 "
        "e43b44 f77622 feae34 fee761 63c74d 3e8948 265c42 193c3e "
        "124e89 0099db 2ce8f5 ffffff c0cbdc 8b9bb4 5a6988 3a4466 "
        "262b44 181425 ff0044 68386c b55088 f6757a e8b796 c28569"
    ),
    # AAP-64 by Adigun A. Polack.
    "aap-64": _listed(
        "060608 141013 3b1725 73172d b4202a df3e23 fa6a0a f9a31b "
        "ffd541 fffc40 d6f264 9cdb43 59c135 14a02e 1a7a3e 24523b "
        "122020 143464 285cc4 249fde 20d6c7 a6fcdb ffffff fef3c0 "
        "fad6b8 f5a097 e86a73 bc4a9b 793a80 403353 242234 221c1a "
        "322b28 71413b bb7547 dba463 f4d29c dae0ea b3b9d1 8b93af "
        "6d758d 4a5462 333941 422433 5b3138 8e5252 ba756a e9b5a3 "
        "e3e6ff b9bffb 849be4 588dbe 477d85 23674e 328464 5daf8d "
        "92dcba cdf7e2 e4d2aa c7b08b a08662 796755 5a4e44 423934"
    ),
}
PRESETS.update(COMMUNITY_PRESETS)

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
