"""The description of the event streams (Server-Sent Events): one job's, and all the caller's."""

from __future__ import annotations

from typing import Any

from pixelmotion.api.docs_common import JOB_PATH, STREAM_AUTH, Doc, Operations
from pixelmotion.api.examples import EXAMPLE_JOB_ID

TOO_MANY_STREAMS = ("TOO_MANY_STREAMS", "You already have 20 event streams open; close one.")

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

OPERATIONS: Operations = {
    ("get", JOB_PATH + "/events"): Doc(
        "Follow a job (Server-Sent Events)",
        "The job's current state, then every change, as `event: job` messages whose `data` is "
        "the job JSON. Reconnect with `Last-Event-ID` (or `?after=`) to get exactly what was "
        "missed. The stream ends at a terminal state; reconnecting after it answers 204. "
        "Browsers' EventSource cannot set headers: pass `?access_token=` instead. A user holds "
        "at most PIXELMOTION_MAX_STREAMS_PER_USER streams (both kinds together).",
        errors=(400, 401, 404, 429),
        error_codes={429: TOO_MANY_STREAMS},
        security=STREAM_AUTH,
        responses={
            "200": {"description": "The event stream", "content": SSE_STREAM},
            "204": {"description": "Reconnected after the job's last event: nothing more will come"},
        },
    ),
    ("get", "/v1/events"): Doc(
        "Follow all my jobs (Server-Sent Events)",
        errors=(400, 401, 429),
        error_codes={429: TOO_MANY_STREAMS},
        security=STREAM_AUTH,
        responses={"200": {"description": "The event stream; it stays open", "content": SSE_STREAM}},
    ),
}
