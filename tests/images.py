"""Reading images in tests without leaving a file open (a ResourceWarning is an error here)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def open_image(path: str | Path) -> Image.Image:
    """The image at ``path``, read into memory: nothing to close, every frame seekable."""
    return Image.open(io.BytesIO(Path(path).read_bytes()))


def frame_count(image: Image.Image) -> int:
    """How many frames an animated image holds (Pillow's stubs leave ``n_frames`` out)."""
    return int(getattr(image, "n_frames", 1))
