"""The description of webhooks both ways: the caller's endpoints and deliveries (out), and
the video model's callbacks (in)."""

from __future__ import annotations

from dataclasses import replace

from pixelmotion.api.docs_common import BEARER, CALLBACK, JOB_PATH, JSON, UNREADABLE_BODY, Doc, Operations
from pixelmotion.api.examples import EXAMPLE_JOB_ID

GENERATION_EXAMPLE = {
    "id": "0b5a3c1e-2f4d-4e6a-8b9c-7d1e2f3a4b5c",
    "state": "completed",
    "failure_reason": None,
    "created_at": "2026-05-04T10:00:02.000Z",
    "assets": {"video": "https://storage.cdn-luma.com/dream_machine/clip.mp4"},
    "model": "ray-2",
    "request": {"prompt": "Pixel art animation: a knight swinging a sword..."},
}
CALLBACK_ERRORS = {
    400: ("INVALID_CALLBACK", "The callback body is not a Generation object: missing id"),
    401: ("INVALID_CALLBACK_TOKEN", "The callback URL's token is missing or wrong."),
    404: ("JOB_NOT_FOUND", f"No job {EXAMPLE_JOB_ID}."),
    409: ("GENERATION_MISMATCH", "This callback names another generation than the job's."),
}
LUMA_CALLBACK = Doc(
    "Luma's callback",
    "Called by the video model (not by users) at each state of the job's generation. The "
    "URL's `token` is an HMAC of the job id, made when the job was submitted. Answers 200 at "
    "once; the heavy work is the worker's.",
    errors=(400, 401, 404, 409, 413),
    security=CALLBACK,
    error_codes=CALLBACK_ERRORS,
    request={
        "required": True,
        "description": "Luma's Generation object",
        "content": {JSON: {"schema": {"type": "object"}, "example": GENERATION_EXAMPLE}},
    },
    examples={"200": {"received": True, "outcome": "applied"}},
)

OPERATIONS: Operations = {
    ("get", "/v1/webhooks"): Doc(
        "List my webhook endpoints",
        "Your registered endpoints, each with its signing secret.",
        errors=(401,),
        security=BEARER,
    ),
    ("post", "/v1/webhooks"): Doc(
        "Register a webhook endpoint",
        errors=(400, 401, 413, 422),
        security=BEARER,
        error_codes={400: UNREADABLE_BODY},
    ),
    ("get", JOB_PATH + "/deliveries"): Doc("A job's webhook deliveries", errors=(401, 404), security=BEARER),
    ("post", JOB_PATH + "/deliveries/{delivery_id}/redeliver"): Doc(
        "Send a webhook delivery again",
        "Queues the delivery to be sent again now, whatever its state.",
        errors=(401, 404),
        error_codes={
            404: ("DELIVERY_NOT_FOUND", "No delivery 2b7c1d0e-9f8a-4b6c-8d5e-3f2a1b0c9d8e for this job.")
        },
        security=BEARER,
    ),
    ("post", "/v1/callbacks/luma/{job_id}"): LUMA_CALLBACK,
    # The same callback under the plan's path; its description is the route's docstring.
    ("post", "/functions/v1/video-webhook"): replace(
        LUMA_CALLBACK, summary="Luma's callback (the plan's route)", description=""
    ),
}
