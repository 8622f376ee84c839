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
# "subject" frames the keyed subject's box over the clip; it needs background "remove".
Fit = Literal["crop", "contain", "stretch", "subject"]
Background = Literal["keep", "remove"]
LoopMode = Literal["none", "trim", "pingpong"]
# The files the pipeline can write (media/render.py): sheet.png + sheet.json, animation.gif,
# frames JSON, animation.webp, animation.png (APNG), frames/NNNN.png, frames.zip,
# animation.aseprite, sheet.png + sheet.hash.json + sheet.array.json (TexturePacker),
# sheet.png + animation.tres (Godot 4 SpriteFrames).
OutputFormat = Literal["sheet", "gif", "json", "webp", "apng", "pngs", "zip", "aseprite", "atlas", "godot"]

FPS_CHOICES: tuple[Fps, ...] = get_args(Fps)
DURATIONS: tuple[Duration, ...] = get_args(Duration)
ASPECT_RATIOS: tuple[AspectRatio, ...] = get_args(AspectRatio)
DITHERS: tuple[Dither, ...] = get_args(Dither)
FITS: tuple[Fit, ...] = get_args(Fit)
BACKGROUNDS: tuple[Background, ...] = get_args(Background)
LOOP_MODES: tuple[LoopMode, ...] = get_args(LoopMode)
OUTPUT_FORMATS: tuple[OutputFormat, ...] = get_args(OutputFormat)
