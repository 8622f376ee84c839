"""Each choice a job request offers, declared once.

The API schema takes the ``Literal`` types, the pipeline's checks and the CLI's choices take
the tuples (``get_args`` of the same types), so a new choice is added in one line.
"""

from __future__ import annotations

from typing import Literal, get_args

Fps = Literal[12, 24, 30]
Duration = Literal[5, 9]  # seconds of the clip the model makes
Model = Literal["ray-2", "ray-flash-2", "ray-1-6"]
Resolution = Literal["540p", "720p", "1080p", "4k"]
AspectRatio = Literal["1:1", "16:9", "9:16", "4:3", "3:4", "21:9", "9:21"]
Dither = Literal["none", "bayer", "floyd"]
Fit = Literal["crop", "contain", "stretch"]
# The files the pipeline can write (media/render.py).
OutputFormat = Literal["sheet", "gif", "json", "webp", "apng", "pngs"]

FPS_CHOICES: tuple[Fps, ...] = get_args(Fps)
DURATIONS: tuple[Duration, ...] = get_args(Duration)
ASPECT_RATIOS: tuple[AspectRatio, ...] = get_args(AspectRatio)
DITHERS: tuple[Dither, ...] = get_args(Dither)
FITS: tuple[Fit, ...] = get_args(Fit)
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)
