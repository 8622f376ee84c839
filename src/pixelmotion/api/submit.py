"""A create request (``POST /v1/jobs`` and the plan's ``video-generate``) as the submit use
case takes it, and its answer."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import Header

from pixelmotion.api.schemas import (
    CreateJobRequest,
    CreateJobResponse,
    PaletteBody,
    PaletteFileBody,
    RenderRequest,
    UploadSource,
    UrlSource,
)
from pixelmotion.app import jobs as use_cases
from pixelmotion.app.jobs import Submission
from pixelmotion.app.palettes import PaletteFile, PaletteInput
from pixelmotion.app.ports import UserScope

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="The same key and body again give the same job back, never a second one.",
    ),
]


def palette_input(body: PaletteBody | None) -> PaletteInput:
    if isinstance(body, PaletteFileBody):
        return PaletteFile(body.file, body.filename)
    return body


def submission(body: CreateJobRequest, idempotency_key: str | None) -> Submission:
    """The request as the use case takes it; the fingerprint covers the whole body."""
    apart = {"source", "webhook_url", "webhook_events", "keyframe", "palette", "palette_from"}
    return Submission(
        fields=body.model_dump(exclude=apart),
        palette=palette_input(body.palette),
        palette_from=body.palette_from,
        source_url=body.source.url if isinstance(body.source, UrlSource) else None,
        source_upload_id=body.source.upload_id if isinstance(body.source, UploadSource) else None,
        keyframe_upload_id=body.keyframe.upload_id if body.keyframe else None,
        webhook_url=body.webhook_url,
        webhook_events=body.webhook_events,
        idempotency_key=idempotency_key,
        fingerprint=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
    )


def created(scope: UserScope, body: CreateJobRequest, key: str | None) -> tuple[CreateJobResponse, bool]:
    """Submit and render: (the answer, whether it replays an earlier request's)."""
    done = use_cases.submit(scope, submission(body, key))
    answer = CreateJobResponse(
        job_id=done.job.id,
        status=done.job.status.value,
        estimated_time_seconds=done.estimate,
        webhook_secret=done.webhook_secret,
    )
    return answer, done.replayed


# Options a re-render may set to null: no fixed palette (colours chosen from the clip again),
# no given key colour (estimated from the clip).
NULLABLE_OPTIONS = frozenset({"palette", "key_color"})


def render_options(body: RenderRequest) -> dict[str, Any]:
    """The canvas options a re-render request set (the rest stay the parent's)."""
    given = {name: getattr(body, name) for name in body.model_fields_set if name != "palette_from"}
    if "palette" in given:
        given["palette"] = palette_input(body.palette)
    return {name: value for name, value in given.items() if value is not None or name in NULLABLE_OPTIONS}
