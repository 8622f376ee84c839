"""``load_palette``: a user's palette from a preset name, a hex list or a palette file.

Files in the formats palette sites and editors trade: GIMP ``.gpl``, ``.hex`` (one
``rrggbb`` a line), JASC ``.pal`` and a PNG of swatches (its distinct colours in reading
order, so a strip of one pixel per colour and a grid of big swatches both work).
Every problem is a :class:`MediaError` with code ``INVALID_PALETTE``.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .errors import INVALID_PALETTE, MediaError
from .palettes import MAX_COLORS, PRESETS

MAX_FILE_BYTES = 4 << 20
# A palette PNG is a strip or a grid of swatches; anything larger is not one.
MAX_PNG_PIXELS = 4096 * 4096
FORMATS = ("gpl", "hex", "pal", "png")

_HEX = re.compile(r"^#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _bad(message: str) -> MediaError:
    return MediaError(INVALID_PALETTE, message)


def _hex_colour(text: str) -> str:
    match = _HEX.match(text.strip())
    if match is None:
        raise _bad(f"not a #rrggbb colour: {text.strip()[:40]!r}")
    digits = match.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return f"#{digits}"


def _rgb_colour(fields: Sequence[str], line_number: int) -> str:
    try:
        values = [int(field) for field in fields[:3]]
    except ValueError:
        values = []
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise _bad(f"line {line_number}: expected three numbers from 0 to 255")
    return "#{:02x}{:02x}{:02x}".format(*values)


def _finish(colours: Sequence[str]) -> list[str]:
    """Duplicates dropped (first kept: indices stay unambiguous), size checked."""
    unique = list(dict.fromkeys(colours))
    if not unique:
        raise _bad("the palette has no colours")
    if len(unique) > MAX_COLORS:
        raise _bad(f"the palette has {len(unique)} colours; at most {MAX_COLORS}")
    return unique


def _text(data: bytes) -> list[str]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("the palette file is not text (UTF-8)") from None
    return text.splitlines()


def parse_gpl(data: bytes) -> list[str]:
    """GIMP palette: ``GIMP Palette`` header, ``Name:``/``Columns:`` lines, ``#`` comments,
    then ``R G B [name]`` lines."""
    lines = _text(data)
    if not lines or lines[0].strip() != "GIMP Palette":
        raise _bad("a GIMP palette starts with the line 'GIMP Palette'")
    colours = []
    for number, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or re.match(r"^(Name|Columns)\s*:", stripped):
            continue
        colours.append(_rgb_colour(stripped.split(), number))
    return colours


def parse_hex(data: bytes) -> list[str]:
    """One ``rrggbb`` (or ``#rrggbb``) a line; blank lines and ``;`` comments ignored."""
    return [_hex_colour(line) for line in _text(data) if line.strip() and not line.lstrip().startswith(";")]


def parse_jasc(data: bytes) -> list[str]:
    """JASC (Paint Shop Pro) palette: ``JASC-PAL``, ``0100``, the count, then ``R G B`` lines."""
    lines = [line.strip() for line in _text(data) if line.strip()]
    if len(lines) < 3 or lines[0] != "JASC-PAL" or lines[1] != "0100":
        raise _bad("a JASC palette starts with the lines 'JASC-PAL' and '0100'")
    if not lines[2].isdigit():
        raise _bad("line 3 of a JASC palette is its number of colours")
    count = int(lines[2])
    entries = lines[3:]
    if count != len(entries):
        raise _bad(f"the JASC palette says {count} colours but lists {len(entries)}")
    return [_rgb_colour(entry.split(), number) for number, entry in enumerate(entries, start=4)]


def parse_png(data: bytes) -> list[str]:
    """The distinct opaque colours of a PNG in reading order (fully transparent pixels skipped)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PNG_PIXELS:
                raise _bad(f"the palette image is {image.width}×{image.height}; too large for swatches")
            rgba = np.asarray(image.convert("RGBA"))
    except MediaError:
        raise
    except Exception:
        raise _bad("not a readable PNG image") from None
    pixels = rgba.reshape(-1, 4)
    pixels = pixels[pixels[:, 3] > 0, :3]
    packed = (pixels[:, 0].astype(np.uint32) << 16) | (pixels[:, 1].astype(np.uint32) << 8) | pixels[:, 2]
    values, first = np.unique(packed, return_index=True)
    if len(values) > MAX_COLORS:
        raise _bad(f"the palette image has {len(values)} colours; at most {MAX_COLORS}")
    ordered = values[np.argsort(first)]
    return [f"#{int(v):06x}" for v in ordered]


_PARSERS = {"gpl": parse_gpl, "hex": parse_hex, "pal": parse_jasc, "png": parse_png}


def file_format(data: bytes, filename: str | None) -> str:
    """``gpl``, ``hex``, ``pal`` or ``png``: by the file's content first, then its name."""
    if data.startswith(_PNG_SIGNATURE):
        return "png"
    head = data[:16].lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"GIMP Palette"):
        return "gpl"
    if head.startswith(b"JASC-PAL"):
        return "pal"
    suffix = (filename or "").rsplit(".", 1)[-1].lower() if filename and "." in filename else ""
    if suffix in ("gpl", "pal", "png"):
        raise _bad(f"the file is named .{suffix} but is not a {suffix.upper()} palette")
    return "hex"


def parse_palette_file(data: bytes, filename: str | None = None) -> list[str]:
    """A palette file's colours as ``#rrggbb`` (``filename`` only helps name the format)."""
    if len(data) > MAX_FILE_BYTES:
        raise _bad(f"the palette file is over {MAX_FILE_BYTES >> 20} MiB")
    if not data.strip():
        raise _bad("the palette file is empty")
    return _finish(_PARSERS[file_format(data, filename)](data))


def load_palette(spec: str | bytes | Sequence[str], filename: str | None = None) -> list[str]:
    """Any palette a user can give, as a list of distinct ``#rrggbb`` colours (≤ 256).

    - ``str``: a preset name (:data:`PRESETS`, case-insensitive) or hex colours separated
      by commas or spaces (``"#000000,#ffffff"``); a string never names a file, so this is
      safe to call on API input;
    - ``bytes``: the content of a ``.gpl``, ``.hex``, ``.pal`` or ``.png`` palette file;
    - a list of hex colours.
    """
    if isinstance(spec, bytes | bytearray):
        return parse_palette_file(bytes(spec), filename)
    if isinstance(spec, str):
        preset = PRESETS.get(spec.strip().lower())
        if preset is not None:
            return list(preset)
        tokens = [t for t in re.split(r"[\s,;]+", spec) if t]
        if len(tokens) == 1 and _HEX.match(tokens[0]) is None:
            names = ", ".join(sorted(PRESETS))
            raise _bad(f"unknown palette {spec.strip()[:40]!r} (presets: {names})")
        return _finish([_hex_colour(t) for t in tokens])
    if not isinstance(spec, list | tuple) or not all(isinstance(item, str) for item in spec):
        raise _bad("a palette is a preset name, a list of #rrggbb colours or a palette file")
    return _finish([_hex_colour(item) for item in spec])
