"""A create request (``POST /v1/jobs`` and the plan's ``video-generate``) as the submit use
case takes it, and its answer."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Header

from pixelmotion.api.schemas import CreateJobRequest, CreateJobResponse, UploadSource, UrlSource
from pixelmotion.app import jobs as use_cases
from pixelmotion.app.jobs import Submission
from pixelmotion.app.ports import UserScope

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="The same key and body again give the same job back, never a second one.",
    ),
]


def submission(body: CreateJobRequest, idempotency_key: str | None) -> Submission:
    """The request as the use case takes it; the fingerprint covers the whole body."""
    return Submission(
        fields=body.model_dump(exclude={"source", "webhook_url", "webhook_events", "keyframe"}),
        source_url=body.source.url if isinstance(body.source, UrlSource) else None,
        source_upload_id=body.source.upload_id if isinstance(body.source, UploadSource) else None,
        keyframe_upload_id=body.keyframe.upload_id if body.keyframe else None,
        webhook_url=body.webhook_url,
        webhook_events=body.webhook_events,
        idempotency_key=idempotency_key,
        fingerprint=hashlib.sha256(body.model_dump_json().encode()).hexdigest(),
    )


def created(body: CreateJobRequest, scope: UserScope, key: str | None) -> tuple[CreateJobResponse, bool]:
    """Submit and render: (the answer, whether it replays an earlier request's)."""
    done = use_cases.submit(scope, submission(body, key))
    answer = CreateJobResponse(
        job_id=done.job.id,
        status=done.job.status.value,
        estimated_time_seconds=done.estimate,
        webhook_secret=done.webhook_secret,
    )
    return answer, done.replayed
