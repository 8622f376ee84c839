"""``/v1/jobs``: create a job, read it, list mine, fetch its results, cancel it."""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from pixelmotion.api.auth import CurrentCaller
from pixelmotion.api.deps import ServicesDep
from pixelmotion.api.errors import ApiError
from pixelmotion.api.schemas import (
    NO_NUL,
    CreateJobRequest,
    CreateJobResponse,
    JobListResponse,
    JobResponse,
    UploadSource,
    UrlSource,
)
from pixelmotion.api.views.uploads import image_type
from pixelmotion.jobs.errors import InvalidRequest
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.limits import LimitReached, UserLimits, limits_gate
from pixelmotion.objects import ObjectNotFound
from pixelmotion.objects.uploads import upload_key
from pixelmotion.service import NoPaidClip, cancel_job, delete_generation, retry_job
from pixelmotion.store.jobs import KeyInFlight, KeyReused
from pixelmotion.store.webhooks import WebhookEndpoint
from pixelmotion.webhooks import new_secret

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])

CONTENT_TYPES = {"sheet": "image/png", "sheetJson": "application/json", "gif": "image/gif"}
PRESIGNED_SECONDS = 900  # how long a redirect to the bucket (S3 storage) stays usable


IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="The same key and body again give the same job back, never a second one.",
    ),
]


def import_source(
    services: ServicesDep, caller_id: str, body: CreateJobRequest
) -> tuple[str | None, str | None]:
    """(URL, stored upload key) of an import's video; the download passes the SSRF guard."""
    if isinstance(body.source, UrlSource):
        return body.source.url, None
    if isinstance(body.source, UploadSource):
        key = upload_key(caller_id, body.source.upload_id)
        if not services.store.exists(key):
            raise InvalidRequest({"source.uploadId": "no such upload for this user"})
        return None, key
    return None, None


def webhook_endpoint_for(
    services: ServicesDep, caller_id: str, body: CreateJobRequest
) -> WebhookEndpoint | None:
    """The job's own ``webhookUrl``, else the user's newest registered endpoint, else none."""
    if body.webhook_url:
        return services.repository.webhooks.endpoint(caller_id, body.webhook_url, new_secret=new_secret)
    for endpoint in services.repository.webhooks.endpoints_of(caller_id):
        if not endpoint.disabled:
            return endpoint
    return None


def keyframe_key(services: ServicesDep, caller_id: str, upload_id: str) -> str:
    """The stored image a generation starts from; it must be the caller's own image upload."""
    key = upload_key(caller_id, upload_id)
    try:
        head = services.store.get_bytes(key)[:16]
    except ObjectNotFound:
        raise InvalidRequest({"keyframe.uploadId": "no such upload for this user"}) from None
    if image_type(head) is None:
        raise InvalidRequest({"keyframe.uploadId": "the upload is not an image"})
    return key


def accept_job(
    services: ServicesDep, caller_id: str, body: CreateJobRequest, idempotency_key: str | None = None
) -> tuple[CreateJobResponse, bool]:
    """Validate, insert the job with its first event and enqueue it; no provider call here.

    Returns the answer and whether it replays an earlier request with the same key.
    """
    source_url, source_key = import_source(services, caller_id, body)
    endpoint = webhook_endpoint_for(services, caller_id, body)
    spec = build_spec(
        **body.model_dump(exclude={"source", "webhook_url", "webhook_events", "keyframe"}),
        template=services.settings.prompt_template,
        source_url=source_url,
        source_object_key=source_key,
    )
    if endpoint is not None:
        spec = replace(spec, webhook_endpoint_id=endpoint.id, webhook_events=body.webhook_events)
    if body.keyframe is not None:
        spec = replace(spec, keyframe_object_key=keyframe_key(services, caller_id, body.keyframe.upload_id))
    provider = services.settings.provider
    settings = services.settings
    limits = UserLimits(
        settings.user_max_active_jobs, settings.user_jobs_per_hour, settings.user_daily_budget_usd
    )
    gate = limits_gate(spec, limits)
    mine = services.repository.as_user(caller_id)  # inserts go through Row Level Security too
    try:
        if idempotency_key is None:
            job, created = mine.jobs.create(spec, user_id=caller_id, provider=provider, gate=gate), True
        else:
            fingerprint = hashlib.sha256(body.model_dump_json().encode()).hexdigest()
            job, created = mine.jobs.create_once(
                spec,
                user_id=caller_id,
                provider=provider,
                key=idempotency_key,
                fingerprint=fingerprint,
                gate=gate,
            )
    except LimitReached as reached:
        raise ApiError(
            429, reached.code, reached.message, headers={"Retry-After": str(reached.retry_after)}
        ) from None
    except KeyReused:
        raise ApiError(
            422, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request body."
        ) from None
    except KeyInFlight:
        raise ApiError(
            409,
            "IDEMPOTENCY_KEY_IN_FLIGHT",
            "A request with this Idempotency-Key is being handled; retry shortly.",
        ) from None
    answer = CreateJobResponse(
        job_id=job.id,
        status=job.status.value,
        estimated_time_seconds=services.estimator.seconds(),
        webhook_secret=endpoint.secret if endpoint and body.webhook_url else None,
    )
    return answer, not created


@router.post("", status_code=202, response_model=CreateJobResponse, response_model_by_alias=True)
def create(
    body: CreateJobRequest,
    caller: CurrentCaller,
    services: ServicesDep,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> CreateJobResponse:
    answer, replayed = accept_job(services, caller.user_id, body, idempotency_key)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return answer


@router.get("", response_model=JobListResponse, response_model_by_alias=True)
def list_jobs(
    caller: CurrentCaller,
    services: ServicesDep,
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = Query(
        None,
        description="createdAt of the last job of the previous page",
        json_schema_extra={"format": "date-time"},
    ),
    project_id: str | None = Query(None, alias="projectId", max_length=200, pattern=NO_NUL),
    status: JobStatus | None = Query(None),
) -> JobListResponse:
    jobs = services.repository.as_user(caller.user_id).jobs.list_for_user(
        caller.user_id, limit=limit, before=parse_cursor(cursor), project_id=project_id, status=status
    )
    estimate = services.estimator.seconds()
    next_cursor = jobs[-1].created_at.isoformat() if len(jobs) == limit else None
    positions = services.repository.queue.queue_positions(jobs)
    return JobListResponse(
        jobs=[JobResponse.of(job, estimate=estimate, queue_position=positions.get(job.id)) for job in jobs],
        next_cursor=next_cursor,
    )


def parse_cursor(value: str | None) -> datetime | None:
    """An ISO 8601 date-time with its offset, as ``nextCursor`` gives it, in UTC. Stricter than
    pydantic's datetime, which reads a bare number as Unix seconds and takes a time without
    an offset, which names no instant (the store compares instants in UTC)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)  # OverflowError past year 9999 or before year 1
    except (ValueError, OverflowError):
        pass
    raise InvalidRequest({"cursor": "must be a date-time with its offset, as nextCursor gives it"})


def owned_job(services: ServicesDep, caller_id: str, job_id: str) -> Job:
    """The caller's job; another user's job is as unknown as a missing one (404)."""
    job = services.repository.as_user(caller_id).jobs.get(job_id, user_id=caller_id)
    if job is None:
        raise ApiError(404, "JOB_NOT_FOUND", f"No job {job_id} for this user.")
    return job


@router.get("/{job_id}", response_model=JobResponse, response_model_by_alias=True)
def get_job(job_id: str, caller: CurrentCaller, services: ServicesDep) -> JobResponse:
    job = owned_job(services, caller.user_id, job_id)
    position = services.repository.queue.queue_position(job)
    return JobResponse.of(job, estimate=services.estimator.seconds(), queue_position=position)


@router.post("/{job_id}/cancel", response_model=JobResponse, response_model_by_alias=True)
async def cancel(
    job_id: str, caller: CurrentCaller, services: ServicesDep, background: BackgroundTasks
) -> JobResponse:
    """Cancel an unfinished job; its provider generation is deleted after the answer."""
    job = await run_in_threadpool(owned_job, services, caller.user_id, job_id)
    if job.is_terminal:
        raise ApiError(409, "JOB_FINISHED", f"The job is already {job.status.value}.")
    result = await run_in_threadpool(cancel_job, services.repository, job)
    if not result.changed:
        raise ApiError(409, "JOB_FINISHED", f"The job is already {result.job.status.value}.")
    background.add_task(delete_generation, services.provider, result.job.luma_generation_id)
    return JobResponse.of(result.job, estimate=services.estimator.seconds())


@router.post("/{job_id}/retry", response_model=JobResponse, response_model_by_alias=True)
def retry(job_id: str, caller: CurrentCaller, services: ServicesDep) -> JobResponse:
    """Process a failed job again from the clip we already paid for; no new generation."""
    job = owned_job(services, caller.user_id, job_id)
    if job.status is not JobStatus.FAILED:
        raise ApiError(
            409, "JOB_NOT_FAILED", f"Only a failed job can be retried; this one is {job.status.value}."
        )
    try:
        retried = retry_job(services.repository, job)
    except NoPaidClip:
        raise ApiError(
            409, "NO_PAID_CLIP", "This job has no stored clip to reuse; create a new job."
        ) from None
    if retried is None:
        raise ApiError(409, "JOB_NOT_FAILED", "The job changed meanwhile; fetch it again.")
    return JobResponse.of(retried, estimate=services.estimator.seconds())


def completed_job(services: ServicesDep, caller_id: str, job_id: str) -> Job:
    job = owned_job(services, caller_id, job_id)
    if job.status is not JobStatus.COMPLETED or not job.frame_storage_urls:
        raise ApiError(
            409,
            "JOB_NOT_COMPLETED",
            f"The job is {job.status.value}; results come when it completes.",
        )
    return job


def stored_object(services: ServicesDep, job: Job, name: str) -> Response:
    """The file itself from a local store; from S3, a 307 to a presigned GET URL, so the
    bytes go from the bucket to the client and never through this process."""
    key = (job.frame_storage_urls or {}).get(name)
    if key is None:
        raise ApiError(404, "OUTPUT_NOT_FOUND", f"This job has no {name} output.")
    path = services.store.local_path(key)
    media_type = CONTENT_TYPES.get(name, "application/octet-stream")
    if path is not None:
        return FileResponse(path, media_type=media_type)
    url = services.store.presigned_url(key, PRESIGNED_SECONDS)
    if url is not None:
        # One HEAD first: after the retention period the job stays but its files are gone,
        # and a clean 404 beats sending the client to the bucket's own error.
        if not services.store.exists(key):
            raise ApiError(404, "OUTPUT_NOT_FOUND", f"The {name} output is no longer stored.")
        return RedirectResponse(url, status_code=307, headers={"Cache-Control": "no-store"})
    try:
        return Response(services.store.get_bytes(key), media_type=media_type)
    except ObjectNotFound:
        raise ApiError(404, "OUTPUT_NOT_FOUND", f"The {name} output is missing from storage.") from None


@router.get("/{job_id}/sheet.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def sheet(job_id: str, caller: CurrentCaller, services: ServicesDep) -> Response:
    return stored_object(services, completed_job(services, caller.user_id, job_id), "sheet")


@router.get("/{job_id}/sheet.json")
def sheet_json(job_id: str, caller: CurrentCaller, services: ServicesDep) -> Response:
    return stored_object(services, completed_job(services, caller.user_id, job_id), "sheetJson")


@router.get(
    "/{job_id}/animation.gif",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}}},
)
def gif(job_id: str, caller: CurrentCaller, services: ServicesDep) -> Response:
    return stored_object(services, completed_job(services, caller.user_id, job_id), "gif")


@router.get("/{job_id}/frames")
async def frames(
    job_id: str,
    request: Request,
    caller: CurrentCaller,
    services: ServicesDep,
    format: Literal["rgba", "indexed"] = Query(
        "rgba", description="rgba: the plan's imageData arrays; indexed: palette indices, base64"
    ),
) -> Response:
    """The plan's frames JSON, stored gzip-compressed and sent as is when the client accepts gzip."""
    job = await run_in_threadpool(completed_job, services, caller.user_id, job_id)
    key = (job.frame_storage_urls or {}).get("frames" if format == "rgba" else "indexed")
    if key is None:
        raise ApiError(404, "OUTPUT_NOT_FOUND", f"This job has no {format} frames.")
    try:
        compressed = await run_in_threadpool(services.store.get_bytes, key)
    except ObjectNotFound:
        raise ApiError(404, "OUTPUT_NOT_FOUND", "The frames are missing from storage.") from None
    headers: dict[str, Any] = {"Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(compressed, media_type="application/json", headers=headers)
    return Response(gzip.decompress(compressed), media_type="application/json", headers=headers)
