"""What every route group's description is made of: ``Doc`` (one route's words, errors and
examples), the ways to authenticate, and the error shape with an example per status.

The groups (``docs_jobs.py``, ``docs_events.py``, ``docs_webhooks.py``, ``docs_admin.py``)
each describe their routes in an ``OPERATIONS`` table; ``docs.py`` merges them and
``openapi.py`` completes FastAPI's description from the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pixelmotion.api.examples import EXAMPLE_JOB_ID

JSON = "application/json"
JOB_PATH = "/v1/jobs/{job_id}"

Security = list[dict[str, list[str]]]
BEARER: Security = [{"bearerAuth": []}]
STREAM_AUTH: Security = [{"bearerAuth": []}, {"accessToken": []}]
SERVICE: Security = [{"bearerAuth": []}]
CALLBACK: Security = [{"callbackToken": []}]

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs: e.g. JOB_NOT_FOUND"},
                "message": {"type": "string", "description": "For people"},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "422 only: what is wrong with each field",
                },
            },
        }
    },
}

# status → (what the status means here, the example error); a route's ``Doc.error_codes``
# replaces the example with its own code and message.
ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: (
        "The request is malformed",
        {"code": "INVALID_LAST_EVENT_ID", "message": "Last-Event-ID must be an integer event id."},
    ),
    401: (
        "No bearer token, or one that was refused",
        {"code": "UNAUTHORIZED", "message": "Sign in: send Authorization: Bearer <token>."},
    ),
    403: (
        "The token lacks the role this route needs",
        {"code": "FORBIDDEN", "message": "This route needs a token with role service_role."},
    ),
    404: (
        "No such job for this user (another user's job is as unknown as a missing one)",
        {"code": "JOB_NOT_FOUND", "message": f"No job {EXAMPLE_JOB_ID} for this user."},
    ),
    409: (
        "The job is not in a state that allows this",
        {"code": "JOB_FINISHED", "message": "The job is already completed."},
    ),
    413: (
        "The body is too large",
        {"code": "PAYLOAD_TOO_LARGE", "message": "The request body is larger than 1048576 bytes."},
    ),
    415: (
        "The body is of a kind this route does not take",
        {
            "code": "UNSUPPORTED_UPLOAD",
            "message": "The upload is neither a video (MP4, MOV, WebM, MKV) nor an image.",
        },
    ),
    422: (
        "The request does not meet the rules",
        {
            "code": "INVALID_REQUEST",
            "message": "width: Input should be greater than or equal to 8",
            "fields": {
                "width": "Input should be greater than or equal to 8",
                "fps": "Input should be 12, 24 or 30",
            },
        },
    ),
    429: (
        "A per-user limit is reached; Retry-After says when to try again",
        {"code": "TOO_MANY_ACTIVE_JOBS", "message": "You have 20 unfinished jobs; wait for one to finish."},
    ),
    503: ("Not ready", {"code": "UNAVAILABLE", "message": "The database does not answer."}),
}

# A JSON body whose bytes are not even text (not UTF-8): FastAPI answers 400, before any rule.
UNREADABLE_BODY = ("BAD_REQUEST", "There was an error parsing the body")


def binary(media_type: str, what: str) -> dict[str, Any]:
    return {"description": what, "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}


@dataclass(frozen=True)
class Doc:
    summary: str
    description: str = ""  # used where the route has no docstring of its own
    errors: tuple[int, ...] = ()
    security: Security | None = None
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)  # merged over FastAPI's
    examples: dict[str, Any] = field(default_factory=dict)  # status → JSON example of the answer
    request: dict[str, Any] | None = None  # a whole requestBody, for routes that read the raw body
    error_codes: dict[int, tuple[str, str]] = field(default_factory=dict)  # status → (code, message)


# (method, path) → what the route says; one table per route group.
Operations = dict[tuple[str, str], Doc]
