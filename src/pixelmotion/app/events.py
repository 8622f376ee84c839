"""What a job's event stream reads, through the caller's store: the snapshot it starts from
and the changes after an event id (``api/views/events.py`` renders them as SSE)."""

from __future__ import annotations

from dataclasses import dataclass

from pixelmotion.app.jobs import owned_job
from pixelmotion.app.ports import UserScope
from pixelmotion.jobs.models import Job, JobEvent
from pixelmotion.jobs.states import ACTIVE_STATES

EVENTS_PAGE = 500  # events read per query


@dataclass(frozen=True)
class Changes:
    events: list[JobEvent]
    jobs: dict[str, Job]  # each changed job as it is now
    estimate: int


def open_job_stream(scope: UserScope, job_id: str, resume_from: int | None) -> Job | None:
    """The caller's job to stream; None when a resumed stream of a finished job has nothing
    left to send (the client saw the end)."""
    job = owned_job(scope, job_id)
    seen_the_end = resume_from is not None and job.is_terminal
    if seen_the_end and not scope.store.events.any_after(resume_from or 0, job_id=job.id):
        return None
    return job


def snapshot(scope: UserScope, job_id: str) -> tuple[int, Job | None, int]:
    """(id of the job's latest event, the job read after it, estimate)."""
    events = scope.store.events.after(job_id=job_id)
    return (events[-1].id if events else 0), scope.store.jobs.get(job_id), scope.estimate()


def active_jobs(scope: UserScope) -> tuple[int, list[Job], int]:
    """(the latest event id, the caller's unfinished jobs, estimate): a user stream's start."""
    last = scope.store.events.last_id()
    jobs = [
        job
        for status in ACTIVE_STATES
        for job in scope.store.jobs.list_for_user(scope.user_id, status=status, limit=100)
    ]
    return last, jobs, scope.estimate()


def changes(scope: UserScope, after_id: int, *, job_id: str | None = None) -> Changes:
    """The events after ``after_id`` (of one job, or all the caller's), then each of their
    jobs as it is now; no job read at all when nothing changed (a wake-up costs one query)."""
    user_id = None if job_id is not None else scope.user_id
    events = scope.store.events.after(after_id=after_id, job_id=job_id, user_id=user_id, limit=EVENTS_PAGE)
    if not events:
        return Changes(events, {}, 0)
    jobs = {}
    for changed in dict.fromkeys(event.job_id for event in events):
        job = scope.store.jobs.get(changed)
        if job is not None:
            jobs[changed] = job
    return Changes(events, jobs, scope.estimate())
