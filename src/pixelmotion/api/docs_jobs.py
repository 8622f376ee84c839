"""The description of the jobs' routes: create, list, read, cancel, retry, the results, and
uploads (sources and keyframes of jobs)."""

from __future__ import annotations

from typing import Any

from pixelmotion.api.docs_common import BEARER, JOB_PATH, UNREADABLE_BODY, Doc, Operations, binary

IN_FLIGHT = (
    "IDEMPOTENCY_KEY_IN_FLIGHT",
    "A request with this Idempotency-Key is being handled; retry shortly.",
)
RESULT_ERRORS = {409: ("JOB_NOT_COMPLETED", "The job is dreaming; results come when it completes.")}

REDIRECT = {
    "description": "With S3 storage: the object's presigned GET URL (valid 15 minutes). Clients "
    "follow it; the bearer token must not be sent on (browsers and httpx drop it when the "
    "origin changes).",
    "headers": {"Location": {"schema": {"type": "string"}, "description": "The presigned URL"}},
}

SHEET_LAYOUT_EXAMPLE: dict[str, Any] = {
    "frames": {
        "frame_0000": {
            "frame": {"x": 0, "y": 0, "w": 64, "h": 64},
            "rotated": False,
            "trimmed": False,
            "spriteSourceSize": {"x": 0, "y": 0, "w": 64, "h": 64},
            "sourceSize": {"w": 64, "h": 64},
            "duration": 83,
        }
    },
    "meta": {
        "app": "pixelmotion",
        "image": "sheet.png",
        "format": "I8",
        "size": {"w": 512, "h": 512},
        "scale": "1",
        "frameTags": [{"name": "animation", "from": 0, "to": 59, "direction": "forward"}],
    },
}
FRAMES_EXAMPLE: dict[str, Any] = {
    "width": 2,
    "height": 1,
    "fps": 12,
    "palette": ["#6a3e65", "#9e7cad"],
    "frames": [
        {"imageData": [106, 62, 101, 255, 158, 124, 173, 255], "delayMs": 83},
        {"imageData": [158, 124, 173, 255, 106, 62, 101, 255], "delayMs": 84},
    ],
}
UPLOAD_TYPES = ("video/mp4", "video/quicktime", "video/webm", "image/png", "image/jpeg")


def result(summary: str, description: str, **more: Any) -> Doc:
    """A job's result: the caller's, and only once the job has completed."""
    return Doc(
        summary, description, errors=(401, 404, 409), security=BEARER, error_codes=RESULT_ERRORS, **more
    )


OPERATIONS: Operations = {
    ("post", "/v1/jobs"): Doc(
        "Create a job",
        "Validates the request, stores the job and answers at once with its id; the worker "
        "talks to the video model, never this request. With `source`, your own video is "
        "pixelated with no model (the job starts in `processing`); with `keyframe`, your "
        "uploaded image is the clip's first frame. Send an `Idempotency-Key` header and a retry "
        "of the same request returns the same job (`Idempotent-Replayed: true`).",
        errors=(400, 401, 409, 413, 422, 429),
        security=BEARER,
        error_codes={400: UNREADABLE_BODY, 409: IN_FLIGHT},
    ),
    ("get", "/v1/jobs"): Doc(
        "List my jobs",
        "The caller's jobs, newest first. Pass `nextCursor` back as `cursor` for the next page.",
        errors=(401, 422),
        security=BEARER,
    ),
    ("get", JOB_PATH): Doc(
        "Read a job",
        "The job's state, progress, error and, once completed, the links of its results.",
        errors=(401, 404),
        security=BEARER,
    ),
    ("post", JOB_PATH + "/cancel"): Doc("Cancel a job", errors=(401, 404, 409), security=BEARER),
    ("post", JOB_PATH + "/retry"): Doc(
        "Retry a failed job",
        errors=(401, 404, 409),
        security=BEARER,
        error_codes={409: ("NO_PAID_CLIP", "This job has no stored clip to reuse; create a new job.")},
    ),
    ("get", JOB_PATH + "/sheet.png"): result(
        "Sprite sheet (PNG)",
        "All frames on one indexed PNG, in the grid `sheet.json` describes. From a local store "
        "the file itself; from S3 a 307 to a presigned URL.",
        responses={"200": binary("image/png", "The sprite sheet"), "307": REDIRECT},
    ),
    ("get", JOB_PATH + "/sheet.json"): result(
        "Sprite sheet layout (JSON)",
        "Each frame's rectangle on the sheet and its duration, in the TexturePacker/Aseprite "
        "JSON that game engines read. From S3 a 307 to a presigned URL.",
        responses={"307": REDIRECT},
        examples={"200": SHEET_LAYOUT_EXAMPLE},
    ),
    ("get", JOB_PATH + "/animation.gif"): result(
        "Animated GIF",
        "The animation as a looping GIF in the job's palette. From S3 a 307 to a presigned URL.",
        responses={"200": binary("image/gif", "The animation"), "307": REDIRECT},
    ),
    ("get", JOB_PATH + "/frames"): Doc(
        "Frames as JSON",
        "The frames for an editor's `loadFrames`: RGBA `imageData` arrays and each frame's delay, "
        "all in one palette. Always served by the API (also with S3 storage): stored gzipped and "
        "sent as is to clients that accept gzip.",
        errors=(401, 404, 409, 422),
        security=BEARER,
        error_codes=RESULT_ERRORS,
        examples={"200": FRAMES_EXAMPLE},
    ),
    ("post", "/v1/uploads"): Doc(
        "Upload a video or an image",
        "The request body is the file itself. A video becomes `source.uploadId` of a job "
        "(pixelated as it is); an image becomes `keyframe.uploadId` (the clip starts from it). "
        "Uploads are kept under their owner: another user's upload id is unknown. The file must "
        "open as the media it is; each user has an hourly rate and a quota of kept bytes, and an "
        "upload no job used within a day is deleted.",
        errors=(401, 413, 415, 422, 429),
        security=BEARER,
        error_codes={
            413: ("VIDEO_TOO_LARGE", "The video is larger than 209715200 bytes."),
            422: ("UPLOAD_UNREADABLE", "The upload cannot be read as media: the file has no video stream."),
            429: ("UPLOAD_RATE_LIMIT", "You may upload 30 files an hour."),
        },
        request={
            "required": True,
            "description": "The file's bytes, up to PIXELMOTION_MAX_VIDEO_BYTES",
            "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in UPLOAD_TYPES},
        },
    ),
    ("post", "/functions/v1/video-generate"): Doc(
        "Create a job (the plan's route)",
        "Same as `POST /v1/jobs`, answered in the shape the plan's Supabase Edge Function used.",
        errors=(400, 401, 409, 413, 422, 429),
        security=BEARER,
        error_codes={400: UNREADABLE_BODY, 409: IN_FLIGHT},
    ),
}
