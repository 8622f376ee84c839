"""Server-Sent Events: every change of a job, replayable after a disconnect.

The ``job_events`` table is the source: a stream sends the rows after the last id it sent,
and the hub only tells it when to look again. So a reconnect with ``Last-Event-ID`` gets
exactly the events it missed, in order, none twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from functools import partial
from typing import Any

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from pixelmotion.api.deps import ServicesDep, StreamScope, run_short
from pixelmotion.api.errors import ApiError
from pixelmotion.api.outages import is_database_outage
from pixelmotion.api.schemas import job_json
from pixelmotion.app import events as use_cases
from pixelmotion.app.ports import UserScope
from pixelmotion.app.streams import Delivery, Member, Seat
from pixelmotion.jobs.models import Job, JobEvent
from pixelmotion.jobs.states import TERMINAL_STATES, JobStatus

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

KEEPALIVE_SECONDS = 15.0
KEEPALIVE = b": keep-alive\n\n"
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


def ended_by_outage(error: Exception) -> bytes:
    """The database went away mid-stream: end the stream cleanly (a half-sent response would
    be an error); the client reconnects with Last-Event-ID after ``retry`` and misses nothing."""
    logger.warning("event stream ended: the database is away (%s)", type(error).__name__)
    return b"retry: 2000\n\n"


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
    scope: StreamScope,
    services: ServicesDep,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    after: int | None = Query(
        None, ge=0, le=MAX_EVENT_ID, description="Same as Last-Event-ID, for clients that cannot set it"
    ),
) -> Response:
    resume_from = parse_last_event_id(last_event_id, after)
    # A read or two, on every (re)connect: where run_short puts short reads.
    job = await run_short(use_cases.open_job_stream, scope, job_id, resume_from)
    if job is None:
        return Response(status_code=204)  # already saw the end: EventSource stops reconnecting
    stream = stream_job(scope, services.streams.take_seat(scope.user_id), job, resume_from)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


def changes_of(scope: UserScope) -> Callable[[int], use_cases.Changes]:
    return partial(use_cases.changes, scope)


def stream_job(scope: UserScope, seat: Seat, job: Job, resume_from: int | None) -> AsyncIterator[bytes]:
    return _guarded(seat, _job_frames(scope, seat, job, resume_from))


async def _job_frames(
    scope: UserScope, seat: Seat, job: Job, resume_from: int | None
) -> AsyncGenerator[bytes, None]:
    # The stream joins its user's fan-out after its snapshot; joining triggers a read of
    # whatever came since, and from then on every wake-up's one shared read of the user's
    # events hands this stream its job's part (app/streams.py). A keep-alive reads nothing.
    last = resume_from or 0
    if resume_from is None:
        # Snapshot first: the current state, under the id of the job's latest event.
        # Events before the job: a change racing in between is sent again, never missed.
        last, fresh, estimate = await run_in_threadpool(use_cases.snapshot, scope, job.id)
        job = fresh or job
        yield sse(last, job_json(job, estimate=estimate))
        if job.is_terminal:
            return
    member = seat.join(changes_of(scope), last, job_id=job.id)
    try:
        async for delivery in _follow(member):
            if delivery is None:
                yield KEEPALIVE
                continue
            current = delivery.job or job
            yield sse(delivery.event.id, event_view(current, delivery.event, delivery.estimate))
            if delivery.event.status in TERMINAL_STATES:
                return
    finally:
        member.leave()


async def _follow(member: Member) -> AsyncIterator[Delivery | None]:
    """The member's deliveries as they come; None where a keep-alive is due."""
    while True:
        deliveries = await member.next(KEEPALIVE_SECONDS)
        if deliveries is None:
            yield None
        for delivery in deliveries or ():
            yield delivery


async def _guarded(seat: Seat, frames: AsyncGenerator[bytes, None]) -> AsyncIterator[bytes]:
    """Ends the stream cleanly on a database outage; however it ends, the frames' own cleanup
    (leaving the fan-out) runs first, then the seat is freed."""
    try:
        async for frame in frames:
            yield frame
    except Exception as error:
        if not is_database_outage(error):
            raise
        yield ended_by_outage(error)
    finally:
        await frames.aclose()
        seat.close()


@router.get("/v1/events", response_class=StreamingResponse)
async def my_events(
    scope: StreamScope,
    services: ServicesDep,
    last_event_id: str | None = Header(None, alias="Last-Event-ID"),
    after: int | None = Query(None, ge=0, le=MAX_EVENT_ID),
) -> Response:
    """Every change of every job of the caller. Without Last-Event-ID: the active jobs' current
    state first, then every change."""
    resume_from = parse_last_event_id(last_event_id, after)
    stream = stream_user(scope, services.streams.take_seat(scope.user_id), resume_from)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


def stream_user(scope: UserScope, seat: Seat, resume_from: int | None) -> AsyncIterator[bytes]:
    return _guarded(seat, _user_frames(scope, seat, resume_from))


async def _user_frames(scope: UserScope, seat: Seat, resume_from: int | None) -> AsyncGenerator[bytes, None]:
    last = resume_from or 0
    if resume_from is None:
        last, active, estimate = await run_in_threadpool(use_cases.active_jobs, scope)
        for job in active:
            yield sse(last, job_json(job, estimate=estimate))
    member = seat.join(changes_of(scope), last)
    try:
        async for delivery in _follow(member):
            if delivery is None:
                yield KEEPALIVE
            elif delivery.job is not None:
                yield sse(delivery.event.id, event_view(delivery.job, delivery.event, delivery.estimate))
    finally:
        member.leave()
