"""The result of the pipeline: indexed frames, one palette, per-frame delays."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from . import encode
from .decode import SourceInfo
from .palettes import to_hex


@dataclass
class Animation:
    """``frames``: N×H×W uint8 palette indices; ``palette``: K×3 uint8 RGB.

    ``transparent_index``: the palette index that is fully transparent (None: all opaque).
    ``tag_direction``: how the animation plays, as Aseprite's tag directions: ``forward``,
    ``reverse`` or ``pingpong``.
    """

    frames: npt.NDArray[np.uint8]
    palette: npt.NDArray[np.uint8]
    delays_ms: list[int]
    fps: int
    source: SourceInfo | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    transparent_index: int | None = None
    tag_direction: str = "forward"

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def duration_ms(self) -> int:
        return sum(self.delays_ms)

    def rgb(self) -> npt.NDArray[np.uint8]:
        """N×H×W×3 RGB frames."""
        return np.take(self.palette, self.frames, axis=0)  # 4× faster than palette[frames]

    def palette_hex(self) -> list[str]:
        return to_hex(self.palette)

    def save_sheet(self, path: str | Path, layout: str = "hash") -> Path:
        """Indexed PNG sprite sheet plus its JSON sidecar (``x.png`` → ``x.json``)."""
        target = encode.ensure_parent(path)
        return encode.save_sheet(
            target, self.frames, self.palette, self.delays_ms, layout, direction=self.tag_direction
        )

    def save_gif(self, path: str | Path) -> None:
        encode.save_gif(encode.ensure_parent(path), self.frames, self.palette, self.fps)

    def save_webp(self, path: str | Path) -> None:
        encode.save_webp(encode.ensure_parent(path), self.frames, self.palette, self.delays_ms)

    def save_apng(self, path: str | Path) -> None:
        encode.save_apng(encode.ensure_parent(path), self.frames, self.palette, self.delays_ms)

    def save_pngs(self, directory: str | Path) -> list[Path]:
        return encode.save_pngs(Path(directory), self.frames, self.palette)

    def to_frames_json(self) -> dict[str, Any]:
        return encode.frames_json(self.frames, self.palette, self.delays_ms, self.fps)

    def frames_json_bytes(self) -> bytes:
        """Compact serialisation of :meth:`to_frames_json`."""
        return encode.frames_json_bytes(self.frames, self.palette, self.delays_ms, self.fps)

    def to_indexed_json(self) -> dict[str, Any]:
        return encode.indexed_json(self.frames, self.palette, self.delays_ms, self.fps)
