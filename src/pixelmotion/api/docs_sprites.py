"""The ``/docs`` description of the sprite routes (issues 13/14): the editor and engine
exports under ``/v1/jobs/{id}/`` and re-renders. ``api/docs.py`` merges this ``OPERATIONS``
table into its own."""

from __future__ import annotations

from typing import Any

from pixelmotion.api.docs_common import BEARER, JOB_PATH, UNREADABLE_BODY, Doc, Operations, binary
from pixelmotion.api.docs_jobs import REDIRECT, SHEET_LAYOUT_EXAMPLE, result

NO_PAID_CLIP = ("NO_PAID_CLIP", "This job has no stored clip to reuse; create a new job.")
BAD_PALETTE = ("INVALID_PALETTE", "palette: unknown palette 'pico9' (presets: aap-64, cga, …)")


def export(summary: str, media_type: str, what: str) -> Doc:
    """A stored export, served like ``sheet.png``."""
    return result(
        summary,
        f"{what} Written by the worker for every job, stored with its other results and served "
        "to its owner only (404 for anyone else's job). From a local store the file itself; "
        "from S3 a 307 to a presigned URL.",
        responses={"200": binary(media_type, summary), "307": REDIRECT},
    )


def layout(summary: str, what: str, example: dict[str, Any]) -> Doc:
    """A stored sheet layout (JSON), served like ``sheet.json``."""
    return result(
        summary,
        f"{what} From a local store the file itself; from S3 a 307 to a presigned URL.",
        responses={"307": REDIRECT},
        examples={"200": example},
    )


ATLAS_EXAMPLE: dict[str, Any] = {
    "frames": [
        {"filename": "frame_0000", **SHEET_LAYOUT_EXAMPLE["frames"]["frame_0000"]},
    ],
    "meta": {"image": "sheet.png", "size": {"w": 512, "h": 512}, "scale": "1"},
}

OPERATIONS: Operations = {
    ("post", JOB_PATH + "/renders"): Doc(
        "Re-render a job",
        "A new job from this job's stored paid clip with other canvas options (width, height, "
        "colorCount, palette, paletteFrom, fps, dither, fit, background, keyColor, loop): no "
        'video-model call and no cost. Options left out keep this job\'s values; `"palette": '
        "null` goes back to colours chosen from the clip. The new job starts in `processing`, "
        "has its own events and results, and names this job in `parentJobId`.",
        errors=(400, 401, 404, 409, 422, 429),
        security=BEARER,
        error_codes={400: UNREADABLE_BODY, 409: NO_PAID_CLIP, 422: BAD_PALETTE},
    ),
    ("get", JOB_PATH + "/animation.aseprite"): export(
        "Aseprite file",
        "application/octet-stream",
        "Indexed colour, the job's palette, one layer, per-frame durations, one tag with the "
        "play direction, the transparent index with background `remove`.",
    ),
    ("get", JOB_PATH + "/animation.webp"): export(
        "Animated WebP", "image/webp", "The animation as a looping WebP (alpha with background `remove`)."
    ),
    ("get", JOB_PATH + "/animation.png"): export(
        "Animated PNG (APNG)",
        "image/apng",
        "The animation as a looping APNG (alpha with background `remove`).",
    ),
    ("get", JOB_PATH + "/frames.zip"): export(
        "Frames (zip of PNGs)", "application/zip", "One indexed PNG a frame, 0000.png onwards."
    ),
    ("get", JOB_PATH + "/sheet.hash.json"): layout(
        "Sheet layout, JSON Hash",
        "TexturePacker's JSON Hash layout of sheet.png (frames by name), for Phaser's `load.atlas`.",
        {**ATLAS_EXAMPLE, "frames": {"frame_0000": ATLAS_EXAMPLE["frames"][0]}},
    ),
    ("get", JOB_PATH + "/sheet.array.json"): layout(
        "Sheet layout, JSON Array",
        "TexturePacker's JSON Array layout of sheet.png (frames in order), for Phaser's `load.atlas`.",
        ATLAS_EXAMPLE,
    ),
    ("get", JOB_PATH + "/animation.tres"): export(
        "Godot SpriteFrames (.tres)",
        "text/plain",
        "A Godot 4 `SpriteFrames` resource naming sheet.png and every frame's rectangle, with "
        "the fps and the loop flag.",
    ),
}
