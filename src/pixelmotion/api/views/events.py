"""Server-Sent Events: every change of a job, replayable after a disconnect.

The ``job_events`` table is the source: a stream sends the rows after the last id it sent,
and the hub only tells it when to look again. So a reconnect with ``Last-Event-ID`` gets
exactly the events it missed, in order, none twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from pixelmotion.api.auth import StreamCaller
from pixelmotion.api.deps import ServicesDep
from pixelmotion.api.errors import ApiError
from pixelmotion.api.schemas import job_json
from pixelmotion.jobs.models import Job, JobEvent
from pixelmotion.jobs.states import ACTIVE_STATES, TERMINAL_STATES, JobStatus

if TYPE_CHECKING:
    from pixelmotion.bootstrap import Services

router = APIRouter(tags=["events"])

KEEPALIVE_SECONDS = 15.0
EVENTS_PAGE = 500  # events read per query
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
# Event ids are 64-bit integers: a larger one names no event, and the database cannot even
# compare it (an overflow that would break the stream after its 200).
MAX_EVENT_ID = 2**63 - 1


def event_view(job: Job, event: JobEvent, estimate: int) -> dict[str, Any]:
    """The job as it was at this event: the job JSON with the event's state laid over it."""
    body = job_json(job, estimate=estimate)
    body.update(status=event.status.value, progress=event.progress, progressMessage=event.message)
    body["updatedAt"] = event.created_at.isoformat().replace("+00:00", "Z")
    if event.status not in (JobStatus.FAILED, JobStatus.CANCELED):
        body["error"] = None
    if event.status is not JobStatus.COMPLETED:
        body.update(outputs={}, completedAt=None, totalFrames=None)
    return body


def sse(event_id: int, data: dict[str, Any]) -> bytes:
    return f"id: {event_id}\nevent: job\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def parse_last_event_id(header: str | None, query: int | None) -> int | None:
    if header is not None and header.strip():
        try:
            value: int | None = max(0, int(header.strip()))
        except ValueError:
            value = None
        if value is None or value > MAX_EVENT_ID:
            raise ApiError(400, "INVALID_LAST_EVENT_ID", "Last-Event-ID must be an integer event id.")
        return value
    return query


@router.get("/v1/jobs/{job_id}/events", response_class=StreamingResponse)
async def job_events(
    job_id: str,
    caller: StreamCaller,
    services: ServicesDep,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    after: int | None = Query(
        None, ge=0, le=MAX_EVENT_ID, description="Same as Last-Event-ID, for clients that cannot set it"
    ),
) -> Response:
    job = await run_in_threadpool(services.repository.jobs.get, job_id, user_id=caller.user_id)
    if job is None:
        raise ApiError(404, "JOB_NOT_FOUND", f"No job {job_id} for this user.")
    resume_from = parse_last_event_id(last_event_id, after)
    if resume_from is not None and job.is_terminal:
        remaining = await run_in_threadpool(
            services.repository.events.after, after_id=resume_from, job_id=job.id
        )
        if not remaining:
            # Already saw the end: 204 tells EventSource to stop reconnecting.
            return Response(status_code=204)
    return StreamingResponse(
        stream_job(services, job, resume_from), media_type="text/event-stream", headers=SSE_HEADERS
    )


def read_snapshot(services: Services, job_id: str) -> tuple[int, Job | None, int]:
    """(id of the job's latest event, the job read after it, estimate): one thread hop."""
    events = services.repository.events.after(job_id=job_id)
    job = services.repository.jobs.get(job_id)
    return (events[-1].id if events else 0), job, services.estimator.seconds()


def read_changes(
    services: Services, after_id: int, *, job_id: str | None = None, user_id: str | None = None
) -> tuple[list[JobEvent], dict[str, Job], int]:
    """The events after ``after_id``, then each of their jobs as it is now: one thread hop,
    and no job read at all when nothing changed (a repeated wake-up costs one query)."""
    repository = services.repository
    events = repository.events.after(after_id=after_id, job_id=job_id, user_id=user_id, limit=EVENTS_PAGE)
    if not events:
        return events, {}, 0
    jobs = {}
    for changed in dict.fromkeys(event.job_id for event in events):
        job = repository.jobs.get(changed)
        if job is not None:
            jobs[changed] = job
    return events, jobs, services.estimator.seconds()


async def stream_job(services: Services, job: Job, resume_from: int | None) -> AsyncIterator[bytes]:
    # Subscribed before any read, so a change committed after a read always wakes us: after
    # the snapshot (or a batch) the stream waits, and re-reads only when woken. Wake-ups come
    # from this process's commits, NOTIFY (PostgreSQL), the hub's table scan, and wake_all
    # after a lost LISTEN connection; a keep-alive does not re-read the table.
    subscription = services.hub.subscribe(job_id=job.id)
    try:
        if resume_from is None:
            # Snapshot first: the current state, under the id of the job's latest event.
            # Events before the job: a change racing in between is sent again, never missed.
            last, fresh, estimate = await run_in_threadpool(read_snapshot, services, job.id)
            job = fresh or job
            yield sse(last, job_json(job, estimate=estimate))
            if job.is_terminal:
                return
            woken = await subscription.wait(KEEPALIVE_SECONDS)
        else:
            last, woken = resume_from, True
        while True:
            if not woken:
                yield b": keep-alive\n\n"
            else:
                events, jobs, estimate = await run_in_threadpool(read_changes, services, last, job_id=job.id)
                current = jobs.get(job.id, job)
                for event in events:
                    last = event.id
                    yield sse(event.id, event_view(current, event, estimate))
                    if event.status in TERMINAL_STATES:
                        return
                if len(events) >= EVENTS_PAGE:
                    continue  # more may be waiting: read on without waiting
            woken = await subscription.wait(KEEPALIVE_SECONDS)
    finally:
        subscription.close()


@router.get("/v1/events", response_class=StreamingResponse)
async def my_events(
    caller: StreamCaller,
    services: ServicesDep,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    after: int | None = Query(None, ge=0, le=MAX_EVENT_ID),
) -> Response:
    """Every change of every job of the caller. Without Last-Event-ID: the active jobs' current
    state first, then every change."""
    resume_from = parse_last_event_id(last_event_id, after)
    return StreamingResponse(
        stream_user(services, caller.user_id, resume_from),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )


async def stream_user(services: Services, user_id: str, resume_from: int | None) -> AsyncIterator[bytes]:
    repository = services.repository
    subscription = services.hub.subscribe(user_id=user_id)
    try:
        if resume_from is None:
            last = await run_in_threadpool(repository.events.last_id)
            estimate = await run_in_threadpool(services.estimator.seconds)
            for status in ACTIVE_STATES:
                for job in await run_in_threadpool(
                    repository.jobs.list_for_user, user_id, status=status, limit=100
                ):
                    yield sse(last, job_json(job, estimate=estimate))
            woken = await subscription.wait(KEEPALIVE_SECONDS)
        else:
            last, woken = resume_from, True
        while True:
            if not woken:
                yield b": keep-alive\n\n"
            else:
                events, jobs, estimate = await run_in_threadpool(
                    read_changes, services, last, user_id=user_id
                )
                for event in events:
                    last = event.id
                    current = jobs.get(event.job_id)
                    if current is not None:
                        yield sse(event.id, event_view(current, event, estimate))
                if len(events) >= EVENTS_PAGE:
                    continue
            woken = await subscription.wait(KEEPALIVE_SECONDS)
    finally:
        subscription.close()
