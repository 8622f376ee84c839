"""The API's documentation: the words, errors and examples of every route in the OpenAPI
description, and ``/docs`` served wholly by this app.

Swagger UI's script, style and icon come from the ``swagger-ui-bundle-v2`` package (Apache-2.0,
Swagger UI 5, which reads OpenAPI 3.1) and are served at ``/static-docs``; the page loads
nothing from elsewhere, and its Content-Security-Policy says so to the browser.

Request and response models carry their own examples (``api/schemas.py``); this module adds
what the routes cannot say through FastAPI alone (binary and event-stream answers, the error
shape, the two ways to authenticate) by completing the generated description.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from starlette.staticfiles import StaticFiles

from pixelmotion.api import schemas as api_schemas
from pixelmotion.api.schemas import EXAMPLE_FAILED_JOB, EXAMPLE_JOB_ID

DOCS_ASSETS = "/static-docs"
SWAGGER_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))
# Only what the page uses (with the source maps the browser's tools ask for): the package's
# own index.html and initializer point at a demo API elsewhere and are not served.
SWAGGER_FILES = frozenset(
    {
        "swagger-ui-bundle.js",
        "swagger-ui-bundle.js.map",
        "swagger-ui.css",
        "swagger-ui.css.map",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)

router = APIRouter(include_in_schema=False)

# --- what each route says -------------------------------------------------------------------

JSON = "application/json"
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

SSE_EXAMPLE = (
    "id: 41\nevent: job\n"
    'data: {"jobId":"' + EXAMPLE_JOB_ID + '","status":"dreaming","progress":60,'
    '"progressMessage":"The video model is rendering...","outputs":{},"...":"..."}\n\n'
    "id: 47\nevent: job\n"
    'data: {"jobId":"' + EXAMPLE_JOB_ID + '","status":"completed","progress":100,'
    '"progressMessage":"Done!","totalFrames":60,"outputs":{"gif":"/v1/jobs/'
    + EXAMPLE_JOB_ID
    + '/animation.gif"},"...":"..."}\n\n'
)
# One message of a stream (keep-alive comments aside), as OpenAPI 3.1 tools read the schema of
# a text/event-stream: each event, not the stream as one string.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "title": "JobEventMessage",
    "type": "object",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {
            "type": "string",
            "pattern": "^[0-9]+$",
            "description": "The event id: send it back as Last-Event-ID to resume after it",
        },
        "event": {"const": "job"},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/JobResponse"},
            "description": "The job JSON as of this event",
        },
    },
}
SSE_STREAM = {"text/event-stream": {"schema": SSE_EVENT_SCHEMA, "example": SSE_EXAMPLE}}

REDIRECT = {
    "description": "With S3 storage: the object's presigned GET URL (valid 15 minutes). Clients "
    "follow it; the bearer token must not be sent on (browsers and httpx drop it when the "
    "origin changes).",
    "headers": {"Location": {"schema": {"type": "string"}, "description": "The presigned URL"}},
}

GENERATION_EXAMPLE = {
    "id": "0b5a3c1e-2f4d-4e6a-8b9c-7d1e2f3a4b5c",
    "state": "completed",
    "failure_reason": None,
    "created_at": "2026-05-04T10:00:02.000Z",
    "assets": {"video": "https://storage.cdn-luma.com/dream_machine/clip.mp4"},
    "model": "ray-2",
    "request": {"prompt": "Pixel art animation: a knight swinging a sword..."},
}


IN_FLIGHT = (
    "IDEMPOTENCY_KEY_IN_FLIGHT",
    "A request with this Idempotency-Key is being handled; retry shortly.",
)
# A JSON body whose bytes are not even text (not UTF-8): FastAPI answers 400, before any rule.
UNREADABLE_BODY = ("BAD_REQUEST", "There was an error parsing the body")
RESULT_ERRORS = {409: ("JOB_NOT_COMPLETED", "The job is dreaming; results come when it completes.")}
CALLBACK_ERRORS = {
    400: ("INVALID_CALLBACK", "The callback body is not a Generation object: missing id"),
    401: ("INVALID_CALLBACK_TOKEN", "The callback URL's token is missing or wrong."),
    404: ("JOB_NOT_FOUND", f"No job {EXAMPLE_JOB_ID}."),
    409: ("GENERATION_MISMATCH", "This callback names another generation than the job's."),
}


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


JOB_PATH = "/v1/jobs/{job_id}"
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
OPERATIONS: dict[tuple[str, str], Doc] = {
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
    ("get", JOB_PATH + "/sheet.png"): Doc(
        "Sprite sheet (PNG)",
        "All frames on one indexed PNG, in the grid `sheet.json` describes. From a local store "
        "the file itself; from S3 a 307 to a presigned URL.",
        errors=(401, 404, 409),
        security=BEARER,
        error_codes=RESULT_ERRORS,
        responses={"200": binary("image/png", "The sprite sheet"), "307": REDIRECT},
    ),
    ("get", JOB_PATH + "/sheet.json"): Doc(
        "Sprite sheet layout (JSON)",
        "Each frame's rectangle on the sheet and its duration, in the TexturePacker/Aseprite "
        "JSON that game engines read. From S3 a 307 to a presigned URL.",
        errors=(401, 404, 409),
        security=BEARER,
        error_codes=RESULT_ERRORS,
        responses={"307": REDIRECT},
        examples={
            "200": {
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
        },
    ),
    ("get", JOB_PATH + "/animation.gif"): Doc(
        "Animated GIF",
        "The animation as a looping GIF in the job's palette. From S3 a 307 to a presigned URL.",
        errors=(401, 404, 409),
        security=BEARER,
        error_codes=RESULT_ERRORS,
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
        examples={
            "200": {
                "width": 2,
                "height": 1,
                "fps": 12,
                "palette": ["#6a3e65", "#9e7cad"],
                "frames": [
                    {"imageData": [106, 62, 101, 255, 158, 124, 173, 255], "delayMs": 83},
                    {"imageData": [158, 124, 173, 255, 106, 62, 101, 255], "delayMs": 84},
                ],
            }
        },
    ),
    ("post", "/v1/uploads"): Doc(
        "Upload a video or an image",
        "The request body is the file itself. A video becomes `source.uploadId` of a job "
        "(pixelated as it is); an image becomes `keyframe.uploadId` (the clip starts from it). "
        "Uploads are kept under their owner: another user's upload id is unknown.",
        errors=(401, 413, 415),
        security=BEARER,
        error_codes={413: ("VIDEO_TOO_LARGE", "The video is larger than 209715200 bytes.")},
        request={
            "required": True,
            "description": "The file's bytes, up to PIXELMOTION_MAX_VIDEO_BYTES",
            "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("video/mp4", "video/quicktime", "video/webm", "image/png", "image/jpeg")
            },
        },
    ),
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
    ("get", JOB_PATH + "/events"): Doc(
        "Follow a job (Server-Sent Events)",
        "The job's current state, then every change, as `event: job` messages whose `data` is "
        "the job JSON. Reconnect with `Last-Event-ID` (or `?after=`) to get exactly what was "
        "missed. The stream ends at a terminal state; reconnecting after it answers 204. "
        "Browsers' EventSource cannot set headers: pass `?access_token=` instead.",
        errors=(400, 401, 404),
        security=STREAM_AUTH,
        responses={
            "200": {
                "description": "The event stream",
                "content": SSE_STREAM,
            },
            "204": {"description": "Reconnected after the job's last event: nothing more will come"},
        },
    ),
    ("get", "/v1/events"): Doc(
        "Follow all my jobs (Server-Sent Events)",
        errors=(400, 401),
        security=STREAM_AUTH,
        responses={
            "200": {
                "description": "The event stream; it stays open",
                "content": SSE_STREAM,
            }
        },
    ),
    ("post", "/functions/v1/video-generate"): Doc(
        "Create a job (the plan's route)",
        "Same as `POST /v1/jobs`, answered in the shape the plan's Supabase Edge Function used.",
        errors=(400, 401, 409, 413, 422, 429),
        security=BEARER,
        error_codes={400: UNREADABLE_BODY, 409: IN_FLIGHT},
    ),
    ("post", "/v1/callbacks/luma/{job_id}"): LUMA_CALLBACK,
    # The same callback under the plan's path; its description is the route's docstring.
    ("post", "/functions/v1/video-webhook"): replace(
        LUMA_CALLBACK, summary="Luma's callback (the plan's route)", description=""
    ),
    ("get", "/v1/admin/jobs/{job_id}"): Doc(
        "Read any user's job (service role)",
        "For tokens whose `role` is `service_role`.",
        errors=(401, 403, 404),
        security=SERVICE,
        examples={"200": EXAMPLE_FAILED_JOB},
    ),
    ("post", "/v1/admin/jobs/{job_id}/requeue"): Doc(
        "Make a job's next step due now (service role)",
        errors=(401, 403, 409),
        security=SERVICE,
        error_codes={409: ("JOB_NOT_ACTIVE", "Only an unfinished job can be requeued.")},
    ),
    ("get", "/v1/admin/usage"): Doc(
        "Jobs and spend per user (service role)",
        errors=(401, 403, 422),
        security=SERVICE,
        examples={
            "200": {
                "since": "2026-05-03T10:00:00Z",
                "users": {
                    "alice": {
                        "jobs": 3,
                        "byStatus": {"completed": 2, "failed": 1},
                        "estimatedCostUsd": 1.1943,
                    }
                },
            }
        },
    ),
    ("get", "/healthz"): Doc(
        "Health",
        "For load balancers and orchestrators: 200 when the database answers and the provider is "
        "usable, else 503 with the failing check. `worker.running` tells whether this process runs "
        "a worker (false for `serve --no-worker`).",
        responses={
            "503": {
                "description": "A check failed",
                "content": {
                    JSON: {
                        "example": {
                            "ok": False,
                            "checks": {
                                "database": {"ok": False, "error": "OperationalError"},
                                "provider": {"name": "luma", "ok": True},
                                "worker": {"running": False},
                            },
                        }
                    }
                },
            }
        },
        examples={
            "200": {
                "ok": True,
                "checks": {
                    "database": {"ok": True, "dialect": "postgresql"},
                    "provider": {"name": "luma", "ok": True},
                    "worker": {"running": True},
                },
            }
        },
    ),
    ("get", "/metrics"): Doc(
        "Prometheus metrics",
        responses={
            "200": {
                "description": "Prometheus text format",
                "content": {
                    "text/plain": {
                        "schema": {"type": "string"},
                        "example": "# TYPE pixelmotion_jobs gauge\n"
                        'pixelmotion_jobs{status="completed"} 42.0\n'
                        "pixelmotion_queue_depth 0.0\n",
                    }
                },
            }
        },
    ),
}

TAGS = [
    {"name": "jobs", "description": "Create jobs, follow them, fetch their results."},
    {"name": "uploads", "description": "Your own videos and images, for imports and keyframes."},
    {"name": "events", "description": "Server-Sent Events, replayable after a disconnect."},
    {"name": "webhooks", "description": "Signed webhooks (Standard Webhooks) to your backend."},
    {"name": "plan", "description": "The routes of the original Supabase plan, kept for its client."},
    {"name": "callbacks", "description": "Called by the video model, not by users."},
    {"name": "admin", "description": "For `service_role` tokens."},
    {"name": "health", "description": "Health and metrics, for operators."},
]

SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT (HS256, or ES256/RS256 through a JWKS) with `sub` = user id and "
        "`aud` = PIXELMOTION_JWT_AUDIENCE, as Supabase Auth issues them. "
        "`pixelmotion token --user alice` prints one.",
    },
    "accessToken": {
        "type": "apiKey",
        "in": "query",
        "name": "access_token",
        "description": "The same JWT, for event streams opened by EventSource.",
    },
    "callbackToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "HMAC of the job id, in the callback URL given to the provider.",
    },
}


# --- completing the description --------------------------------------------------------------


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's description, completed from ``OPERATIONS``; built once and cached."""
    if app.openapi_schema:
        return app.openapi_schema
    spec = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
    )
    complete(spec)
    app.openapi_schema = spec
    return spec


def complete(spec: dict[str, Any]) -> None:
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _restore_model_examples(schemas)
    schemas["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in spec.get("paths", {}).items():
        for method, operation in operations.items():
            doc = OPERATIONS.get((method, path))
            if doc is not None:
                _apply(operation, doc)
            _errors_in_our_shape(operation)
            _examples_from_schemas(operation, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    if "HTTPValidationError" in json.dumps(spec):  # pragma: no cover - a route kept FastAPI's 422
        raise RuntimeError("a route still documents FastAPI's validation error shape")


def _restore_model_examples(schemas: dict[str, Any]) -> None:
    """FastAPI drops every null from the description (``exclude_none``), examples included,
    which leaves them invalid (``"error": null`` is a required field); put them back whole."""
    for name, model in vars(api_schemas).items():
        if isinstance(model, type) and issubclass(model, BaseModel) and name in schemas:
            examples = model.model_json_schema().get("examples")
            if examples:
                schemas[name]["examples"] = examples


def _apply(operation: dict[str, Any], doc: Doc) -> None:
    operation["summary"] = doc.summary
    if not operation.get("description") and doc.description:
        operation["description"] = doc.description
    if doc.security is not None:
        operation["security"] = doc.security
    if doc.request is not None:
        operation["requestBody"] = copy.deepcopy(doc.request)
    responses = operation.setdefault("responses", {})
    for status, response in doc.responses.items():
        merged = {**responses.get(status, {}), **copy.deepcopy(response)}
        responses[status] = merged
    for status, example in doc.examples.items():
        content = responses.setdefault(status, {"description": "OK"}).setdefault("content", {})
        content.setdefault(JSON, {}).update(example=copy.deepcopy(example))
    for code in doc.errors:
        description, error = ERRORS[code]
        if code in doc.error_codes:
            error = dict(zip(("code", "message"), doc.error_codes[code], strict=True))
        responses[str(code)] = {
            "description": description,
            "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/Error"}, "example": {"error": error}}
            },
        }


def _errors_in_our_shape(operation: dict[str, Any]) -> None:
    """FastAPI documents 422 as its own shape; ours is ``{"error": {...}}`` (api/errors.py)."""
    response = operation.get("responses", {}).get("422")
    if response is None:
        return
    schema = response.get("content", {}).get(JSON, {}).get("schema", {})
    if schema.get("$ref", "").endswith("/HTTPValidationError"):
        description, example = ERRORS[422]
        operation["responses"]["422"] = {
            "description": description,
            "content": {
                JSON: {"schema": {"$ref": "#/components/schemas/Error"}, "example": {"error": example}}
            },
        }


def _examples_from_schemas(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Lift each model's first example to where Swagger UI shows it: the media type."""
    bodies = [operation.get("requestBody", {}), *list(operation.get("responses", {}).values())]
    for body in bodies:
        media = body.get("content", {}).get(JSON)
        if not media or "example" in media or "examples" in media:
            continue
        example = _example_of(media.get("schema", {}), schemas)
        if example is not None:
            media["example"] = example
    request = operation.get("requestBody", {}).get("content", {}).get(JSON)
    if request is not None:
        named = _all_examples_of(request.get("schema", {}), schemas)
        if len(named) > 1:
            request.pop("example", None)
            request["examples"] = {
                f"example{i + 1}": {"summary": _example_summary(value), "value": value}
                for i, value in enumerate(named)
            }


def _example_of(schema: dict[str, Any], schemas: dict[str, Any]) -> Any:
    examples = _all_examples_of(schema, schemas)
    if examples:
        return examples[0]
    if schema.get("type") == "array":
        item = _example_of(schema.get("items", {}), schemas)
        return None if item is None else [item]
    return None


def _all_examples_of(schema: dict[str, Any], schemas: dict[str, Any]) -> list[Any]:
    ref = schema.get("$ref", "")
    target = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else schema
    return list(target.get("examples", []))


def _example_summary(value: Any) -> str:
    if isinstance(value, dict) and "source" in value:
        return "Pixelate your own video (no model)"
    if isinstance(value, dict) and "webhookUrl" in value:
        return "A looping sprite, dithered, with a webhook"
    return "A prompt"


# --- the page ---------------------------------------------------------------------------------


class SwaggerFiles(StaticFiles):
    """Swagger UI's files, those the page uses only."""

    def lookup_path(self, path: str) -> tuple[str, Any]:
        if path not in SWAGGER_FILES:
            return "", None
        return super().lookup_path(path)

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def docs_page(openapi_url: str) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=openapi_url,
        title="pixelmotion API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        # validatorUrl none: Swagger UI would otherwise send the description to its online
        # validator; the rest keeps the page quick on a long description.
        swagger_ui_parameters={"validatorUrl": None, "docExpansion": "list", "defaultModelsExpandDepth": 0},
    )
    html = bytes(page.body).decode()
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": _content_security_policy(html),
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
            "X-Frame-Options": "DENY",
            "Cache-Control": "no-cache",
        },
    )


def _content_security_policy(html: str) -> str:
    """This origin only; the page's one inline script allowed by its hash, not wholesale."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    return "; ".join(
        (
            "default-src 'none'",
            f"script-src 'self' {hashes}",
            "style-src 'self' 'unsafe-inline'",  # Swagger UI sets style attributes
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


@router.get("/docs")
def docs() -> HTMLResponse:
    return docs_page("/openapi.json")


def install_docs(app: FastAPI) -> None:
    """``/docs`` and its files, and the completed OpenAPI description at ``/openapi.json``."""
    if not (SWAGGER_DIR / "swagger-ui-bundle.js").is_file():  # pragma: no cover - packaging error
        raise RuntimeError(f"Swagger UI's files are missing from {SWAGGER_DIR}")
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.include_router(router)
    app.mount(DOCS_ASSETS, SwaggerFiles(directory=SWAGGER_DIR), name="static-docs")


from pixelmotion.api import docs_sprites  # noqa: E402  (it builds on Doc above)

OPERATIONS.update(docs_sprites.OPERATIONS)
