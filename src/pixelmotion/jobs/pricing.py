"""What a generation costs, estimated as Luma prices it: per million output pixels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# USD per million output pixels (luma-api.md: ray-2 720p 5 s ≈ $0.71, ray-flash-2 ≈ $0.24).
USD_PER_MEGAPIXEL = {"ray-2": 0.0064, "ray-1-6": 0.0064, "ray-flash-2": 0.0022}
SHORT_SIDE = {"540p": 540, "720p": 720, "1080p": 1080, "4k": 2160}
CLIP_FPS = 24


def output_size(resolution: str, aspect_ratio: str) -> tuple[int, int]:
    """The clip's width and height: the resolution sets the short side, the ratio the other."""
    short = SHORT_SIDE.get(resolution, 720)
    a, b = (int(x) for x in aspect_ratio.split(":"))
    if a >= b:
        return round(short * a / b), short
    return short, round(short * b / a)


def estimated_cost_usd(model: str, resolution: str, aspect_ratio: str, duration_seconds: int) -> float:
    width, height = output_size(resolution, aspect_ratio)
    megapixels = width * height * CLIP_FPS * duration_seconds / 1_000_000
    return round(megapixels * USD_PER_MEGAPIXEL.get(model, USD_PER_MEGAPIXEL["ray-2"]), 4)


def total_cost_usd(generations: Iterable[tuple[Any, ...]]) -> float:
    """The estimated cost of several generations, each (model, resolution, aspect ratio, duration)."""
    return sum(estimated_cost_usd(m, r, a, int(d)) for m, r, a, d in generations)
