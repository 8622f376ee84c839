"""``load_palette``: presets, hex lists and each palette file format, and the errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pixelmotion.media import pixelate_video
from pixelmotion.media.errors import MediaError
from pixelmotion.media.palette_files import load_palette

COLOURS = ["#1a1c2c", "#5d275d", "#b13e53", "#ef7d57", "#ffcd75", "#a7f070"]


def _gpl(colours: list[str]) -> bytes:
    lines = ["GIMP Palette", "Name: test", "Columns: 4", "#"]
    lines += [
        f"{int(c[1:3], 16):3d} {int(c[3:5], 16):3d} {int(c[5:7], 16):3d}\tc{i}" for i, c in enumerate(colours)
    ]
    return ("\n".join(lines) + "\n").encode()


def _hex(colours: list[str]) -> bytes:
    return ("\r\n".join(c[1:].upper() for c in colours) + "\r\n").encode()


def _jasc(colours: list[str]) -> bytes:
    rows = [f"{int(c[1:3], 16)} {int(c[3:5], 16)} {int(c[5:7], 16)}" for c in colours]
    return "\r\n".join(["JASC-PAL", "0100", str(len(colours)), *rows, ""]).encode()


def _png(colours: list[str], swatch: int) -> bytes:
    """Swatches of ``swatch``×``swatch`` pixels in a grid three wide, reading order."""
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours], dtype=np.uint8)
    rows = -(-len(colours) // 3)
    grid = np.zeros((rows, 3, 4), dtype=np.uint8)  # unused cells fully transparent
    for i, colour in enumerate(rgb):
        grid[i // 3, i % 3] = (*colour, 255)
    image = np.repeat(np.repeat(grid, swatch, axis=0), swatch, axis=1)
    out = io.BytesIO()
    Image.fromarray(image, "RGBA").save(out, format="PNG")
    return out.getvalue()


FILES = {
    "palette.gpl": _gpl(COLOURS),
    "palette.hex": _hex(COLOURS),
    "palette.pal": _jasc(COLOURS),
    "strip.png": _png(COLOURS, 1),
    "swatches.png": _png(COLOURS, 8),
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_file_format_gives_its_colours_in_order(name: str) -> None:
    assert load_palette(FILES[name], name) == COLOURS
    assert load_palette(FILES[name]) == COLOURS  # recognised by content alone too


def test_presets_and_hex_lists() -> None:
    assert load_palette("PICO8")[:2] == ["#000000", "#1d2b53"]
    assert len(load_palette("aap-64")) == 64
    assert load_palette("#000, ffffff;#FF0000") == ["#000000", "#ffffff", "#ff0000"]
    assert load_palette(["#000000", "#000000", "#fff"]) == ["#000000", "#ffffff"]


@pytest.mark.parametrize(
    ("spec", "filename", "fragment"),
    [
        ("", None, "no colours"),
        ("no-such-palette", None, "unknown palette"),
        ("#000000,#12345", None, "not a #rrggbb"),
        ([], None, "no colours"),
        (b"", "x.hex", "empty"),
        (b"GIMP Palette\n300 0 0\n", "x.gpl", "0 to 255"),
        (b"GIMP Palette\nName: nothing\n", "x.gpl", "no colours"),
        (b"JASC-PAL\n0100\n3\n0 0 0\n", "x.pal", "says 3 colours"),
        (b"zzzzzz\n", "x.hex", "not a #rrggbb"),
        (b"\x89PNG\r\n\x1a\nbroken", "x.png", "not a readable PNG"),
        (b"000000\n", "x.png", "not a PNG"),
        (b"\xff\xfe\x00", "x.hex", "not text"),
        ("\n".join(f"{i:06x}" for i in range(257)).encode(), "x.hex", "at most 256"),
    ],
)
def test_bad_palettes_have_a_code_and_a_message(spec: object, filename: str | None, fragment: str) -> None:
    with pytest.raises(MediaError) as caught:
        load_palette(spec, filename)  # type: ignore[arg-type]
    assert caught.value.code == "INVALID_PALETTE"
    assert fragment in caught.value.message


def test_a_png_with_too_many_colours_is_refused() -> None:
    noise = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(noise, "RGB").save(out, format="PNG")
    with pytest.raises(MediaError, match="at most 256"):
        load_palette(out.getvalue(), "noise.png")


@pytest.mark.parametrize("name", ["palette.gpl", "swatches.png", "sweetie-16"])
def test_the_pipeline_uses_exactly_the_palette(clip: Path, name: str) -> None:
    colours = load_palette(FILES[name], name) if name in FILES else load_palette(name)
    animation = pixelate_video(clip, width=24, height=16, colors=len(colours), fps=6, palette=colours)
    assert animation.palette_hex() == colours
    used = {animation.palette_hex()[i] for i in np.unique(animation.frames)}
    assert used <= set(colours) and len(used) > 1
