"""The result of the pipeline: indexed frames, one palette, per-frame delays."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import encode
from .decode import SourceInfo
from .palettes import to_hex

if TYPE_CHECKING:
    from .loops import LoopInfo

TAG_DIRECTIONS = ("forward", "reverse", "pingpong")


@dataclass
class Animation:
    """``frames``: N×H×W uint8 palette indices; ``palette``: K×3 uint8 RGB.

    ``transparent_index``: the palette entry that is fully transparent (None: all opaque).
    ``tag_direction``: how the frames play, as Aseprite's tag directions: ``forward``,
    ``reverse`` or ``pingpong`` (the writers of formats without a direction play
    :meth:`unrolled`).
    """

    frames: npt.NDArray[np.uint8]
    palette: npt.NDArray[np.uint8]
    delays_ms: list[int]
    fps: int
    source: SourceInfo | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    transparent_index: int | None = None
    tag_direction: str = "forward"
    loop: LoopInfo | None = None

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

    def unrolled(self) -> Animation:
        """The frames in the order they play, direction ``forward`` (for formats that have
        no tag direction): ``reverse`` backwards, ``pingpong`` forward then back without
        repeating the end frames."""
        if self.tag_direction == "forward":
            return self
        count = len(self.frames)
        if self.tag_direction == "reverse":
            order = list(range(count - 1, -1, -1))
        else:
            order = list(range(count)) + list(range(count - 2, 0, -1))
        return replace(
            self,
            frames=np.ascontiguousarray(self.frames[order]),
            delays_ms=[self.delays_ms[i] for i in order],
            tag_direction="forward",
        )

    def alpha_palette(self) -> npt.NDArray[np.uint8]:
        """K×4 RGBA: every entry opaque but the transparent one."""
        return encode.rgba_palette(self.palette, self.transparent_index)

    def palette_hex(self) -> list[str]:
        return to_hex(self.palette)

    def save_sheet(self, path: str | Path, layout: str = "hash") -> Path:
        """Indexed PNG sprite sheet plus its JSON sidecar (``x.png`` → ``x.json``)."""
        target = encode.ensure_parent(path)
        return encode.save_sheet(
            target,
            self.frames,
            self.palette,
            self.delays_ms,
            layout,
            transparent=self.transparent_index,
            direction=self.tag_direction,
        )

    def save_gif(self, path: str | Path) -> None:
        encode.save_gif(
            encode.ensure_parent(path), self.frames, self.palette, self.fps, self.transparent_index
        )

    def save_webp(self, path: str | Path) -> None:
        encode.save_webp(
            encode.ensure_parent(path), self.frames, self.palette, self.delays_ms, self.transparent_index
        )

    def save_apng(self, path: str | Path) -> None:
        encode.save_apng(
            encode.ensure_parent(path), self.frames, self.palette, self.delays_ms, self.transparent_index
        )

    def save_pngs(self, directory: str | Path) -> list[Path]:
        return encode.save_pngs(Path(directory), self.frames, self.palette, self.transparent_index)

    def to_frames_json(self) -> dict[str, Any]:
        return encode.frames_json(self.frames, self.palette, self.delays_ms, self.fps, self.transparent_index)

    def frames_json_bytes(self) -> bytes:
        """Compact serialisation of :meth:`to_frames_json`."""
        return encode.frames_json_bytes(
            self.frames, self.palette, self.delays_ms, self.fps, self.transparent_index
        )

    def to_indexed_json(self) -> dict[str, Any]:
        return encode.indexed_json(
            self.frames, self.palette, self.delays_ms, self.fps, self.transparent_index
        )
