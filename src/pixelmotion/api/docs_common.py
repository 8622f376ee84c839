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


def _error(about: str, code: str, message: str) -> tuple[str, dict[str, Any]]:
    return about, {"code": code, "message": message}


# status → (what the status means here, the example error); a route's ``Doc.error_codes``
# replaces the example with its own code and message.
ERRORS: dict[int, tuple[str, dict[str, Any]]] = {
    400: _error(
        "The request is malformed", "INVALID_LAST_EVENT_ID", "Last-Event-ID must be an integer event id."
    ),
    401: _error(
        "No bearer token, or one that was refused",
        "UNAUTHORIZED",
        "Sign in: send Authorization: Bearer <token>.",
    ),
    403: _error(
        "The token lacks the role this route needs",
        "FORBIDDEN",
        "This route needs a token with role service_role.",
    ),
    404: _error(
        "No such job for this user (another user's job is as unknown as a missing one)",
        "JOB_NOT_FOUND",
        f"No job {EXAMPLE_JOB_ID} for this user.",
    ),
    409: _error(
        "The job is not in a state that allows this", "JOB_FINISHED", "The job is already completed."
    ),
    413: _error(
        "The body is too large", "PAYLOAD_TOO_LARGE", "The request body is larger than 1048576 bytes."
    ),
    415: _error(
        "The body is of a kind this route does not take",
        "UNSUPPORTED_UPLOAD",
        "The upload is neither a video (MP4, MOV, WebM, MKV) nor an image.",
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
    429: _error(
        "A per-user limit is reached; Retry-After says when to try again",
        "TOO_MANY_ACTIVE_JOBS",
        "You have 20 unfinished jobs; wait for one to finish.",
    ),
    503: _error("Not ready", "UNAVAILABLE", "The database does not answer."),
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
