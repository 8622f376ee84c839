"""``/v1/jobs``: create a job, read it, list mine, fetch its results, cancel it, retry it.
Each route parses, calls one use case of ``app/jobs.py`` and renders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from pixelmotion.api.deps import Scope, ServicesDep, run_short
from pixelmotion.api.render import json_response
from pixelmotion.api.schemas import (
    NO_NUL,
    CreateJobRequest,
    CreateJobResponse,
    JobListResponse,
    JobResponse,
    RenderRequest,
)
from pixelmotion.api.streams import send_gzip
from pixelmotion.api.submit import IdempotencyKey, created, render_options
from pixelmotion.app import jobs as use_cases
from pixelmotion.app import renders
from pixelmotion.app.jobs import JobView, Output
from pixelmotion.jobs.errors import InvalidRequest
from pixelmotion.jobs.states import JobStatus
from pixelmotion.jobs.summary import OUTPUT_NAMES
from pixelmotion.objects.keys import content_type

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])


@router.post("", status_code=202, response_model=CreateJobResponse, response_model_by_alias=True)
async def create(body: CreateJobRequest, scope: Scope, idempotency_key: IdempotencyKey = None) -> Response:
    answer, replayed = await run_short(created, scope, body, idempotency_key)
    return json_response(answer, 202, {"Idempotent-Replayed": "true"} if replayed else None)


@router.get("", response_model=JobListResponse, response_model_by_alias=True)
def list_jobs(
    scope: Scope,
    limit: int = Query(20, ge=1, le=100),
    cursor: str | None = Query(
        None,
        description="createdAt of the last job of the previous page",
        json_schema_extra={"format": "date-time"},
    ),
    project_id: str | None = Query(None, alias="projectId", max_length=200, pattern=NO_NUL),
    status: JobStatus | None = Query(None),
) -> Response:
    page = use_cases.list_jobs(
        scope, limit=limit, before=parse_cursor(cursor), project_id=project_id, status=status
    )
    views = [
        JobResponse.of(j, estimate=page.estimate, queue_position=page.positions.get(j.id)) for j in page.jobs
    ]
    return json_response(JobListResponse(jobs=views, next_cursor=page.next_cursor))


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


def render(view: JobView) -> JobResponse:
    return JobResponse.of(view.job, estimate=view.estimate, queue_position=view.queue_position)


@router.get("/{job_id}", response_model=JobResponse, response_model_by_alias=True)
async def get_job(job_id: str, scope: Scope) -> Response:
    return json_response(render(await run_short(use_cases.read, scope, job_id)))


@router.post("/{job_id}/cancel", response_model=JobResponse, response_model_by_alias=True)
async def cancel(
    job_id: str, scope: Scope, services: ServicesDep, background: BackgroundTasks
) -> JobResponse:
    """Cancel an unfinished job; its provider generation is deleted after the answer."""

    def delete_later(generation_id: str) -> None:
        background.add_task(use_cases.delete_generation, services.provider, generation_id)

    return render(await run_in_threadpool(use_cases.cancel, scope, job_id, then=delete_later))


@router.post("/{job_id}/retry", response_model=JobResponse, response_model_by_alias=True)
def retry(job_id: str, scope: Scope) -> JobResponse:
    """Process a failed job again from the clip we already paid for; no new generation."""
    return render(use_cases.retry(scope, job_id))


@router.post(
    "/{job_id}/renders", status_code=202, response_model=CreateJobResponse, response_model_by_alias=True
)
def rerender(job_id: str, body: RenderRequest, scope: Scope) -> CreateJobResponse:
    """Pixelate this job's stored paid clip again with other canvas options: a new job, no
    provider call, no cost. Options left out keep this job's values."""
    job = renders.rerender(scope, job_id, render_options(body), body.palette_from)
    return CreateJobResponse(job_id=job.id, status=job.status.value, estimated_time_seconds=scope.estimate())


def send(output: Output) -> Response:
    """A local file as is; a bucket's object as a 307 to a presigned GET URL."""
    if output.path is not None:
        return FileResponse(output.path, media_type=output.media_type)
    if output.redirect is not None:
        return RedirectResponse(output.redirect, status_code=307, headers={"Cache-Control": "no-store"})
    return Response(output.data, media_type=output.media_type)


@router.get("/{job_id}/sheet.png", response_class=Response, responses={200: {"content": {"image/png": {}}}})
def sheet(job_id: str, scope: Scope) -> Response:
    return send(use_cases.output(scope, job_id, "sheet"))


@router.get("/{job_id}/sheet.json")
def sheet_json(job_id: str, scope: Scope) -> Response:
    return send(use_cases.output(scope, job_id, "sheetJson"))


@router.get(
    "/{job_id}/animation.gif",
    response_class=Response,
    responses={200: {"content": {"image/gif": {}}}},
)
def gif(job_id: str, scope: Scope) -> Response:
    return send(use_cases.output(scope, job_id, "gif"))


def export_route(name: str) -> None:
    """GET /v1/jobs/{id}/<file> for one of the editor/engine exports, served like sheet.png."""

    def serve(job_id: str, scope: Scope) -> Response:
        return send(use_cases.output(scope, job_id, name))

    router.add_api_route(
        f"/{{job_id}}/{OUTPUT_NAMES[name]}",
        serve,
        methods=["GET"],
        name=f"export_{name}",
        response_class=Response,
        responses={200: {"content": {content_type(name).split(";")[0]: {}}}},
        summary=f"The job's {OUTPUT_NAMES[name]}",
    )


for _export in ("aseprite", "webp", "apng", "zip", "sheetHash", "sheetArray", "godot"):
    export_route(_export)


@router.get("/{job_id}/frames")
async def frames(
    job_id: str,
    request: Request,
    scope: Scope,
    format: Literal["rgba", "indexed"] = Query(
        "rgba", description="rgba: the plan's imageData arrays; indexed: palette indices, base64"
    ),
) -> Response:
    """The plan's frames JSON, stored gzip-compressed: sent as is when the client accepts gzip,
    else inflated chunk by chunk off the event loop (never whole in memory)."""
    stored = await run_in_threadpool(use_cases.frames, scope, job_id, format)
    return send_gzip(stored, request.headers.get("accept-encoding", ""))
