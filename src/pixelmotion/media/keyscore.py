"""How good a matte is, against the true one (tests and the benchmark use the same figures).

- ``iou``: intersection over union of the opaque pixels and the true matte, over all frames
  (``min_iou``: of the worst frame). The true matte is area-downscaled like the picture and
  made hard at 0.5.
- ``key_near``: share of the opaque pixels whose colour is within ``KEY_NEAR_LEVELS`` of the
  key colour on every channel (key colour left in the sprite).
- ``flicker``: share of the pixel × frame-step pairs where the true matte did not change but
  the output's alpha did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

from .geometry import place

KEY_NEAR_LEVELS = 40
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class MatteScore:
    iou: float
    min_iou: float
    key_near: float
    flicker: float

    def as_dict(self) -> dict[str, float]:
        return {
            "iou": round(self.iou, 4),
            "minIou": round(self.min_iou, 4),
            "keyNearPct": round(100 * self.key_near, 3),
            "flickerPct": round(100 * self.flicker, 3),
        }


def downscale_matte(matte: BoolArray, width: int, height: int, fit: str = "crop") -> BoolArray:
    """A full-size true matte (H×W) area-averaged to the output size the way the picture is
    (same fit placement), hard at 0.5."""
    src_h, src_w = matte.shape
    p = place(src_w, src_h, width, height, fit)
    box = (p.src_x, p.src_y, p.src_x + p.src_w, p.src_y + p.src_h)
    small = Image.fromarray(matte.astype(np.float32), "F").resize(
        (p.dst_w, p.dst_h), Image.Resampling.BOX, box=box
    )
    out = np.zeros((height, width), dtype=bool)
    out[p.dst_y : p.dst_y + p.dst_h, p.dst_x : p.dst_x + p.dst_w] = np.asarray(small) >= 0.5
    return out


def score(
    opaque: BoolArray,
    rgb: npt.NDArray[np.uint8],
    truth: BoolArray | Sequence[BoolArray],
    key: tuple[int, int, int],
) -> MatteScore:
    """``opaque``: N×H×W output alpha; ``rgb``: N×H×W×3 output colours; ``truth``: N×H×W
    downscaled true mattes; ``key``: the key colour."""
    true = np.asarray(truth, dtype=bool)
    both = (opaque & true).sum(axis=(1, 2))
    either = (opaque | true).sum(axis=(1, 2))
    per_frame = both / np.maximum(either, 1)
    shown = rgb[opaque].astype(np.int16)
    near = (np.abs(shown - np.array(key, dtype=np.int16)).max(axis=1) <= KEY_NEAR_LEVELS).sum()
    still = true[1:] == true[:-1]
    changed = (opaque[1:] != opaque[:-1]) & still
    return MatteScore(
        iou=float(both.sum() / max(1, either.sum())),
        min_iou=float(per_frame.min()),
        key_near=float(near / max(1, len(shown))),
        flicker=float(changed.sum() / max(1, still.sum())),
    )
