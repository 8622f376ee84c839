"""A user's jobs: submit one, read it, list them, cancel, retry, and fetch its results.

Submit checks everything before it writes anything: the source, the keyframe, the webhook
URL, then (in the insert's own transaction, under the user's lock) the user's limits and the
Idempotency-Key; a new webhook endpoint is made in that same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from pixelmotion.app.errors import Conflict, KeyReusedError, NotFound, job_not_found
from pixelmotion.app.limits import limits_gate
from pixelmotion.app.palettes import PaletteInput, chosen_palette
from pixelmotion.app.ports import UserScope
from pixelmotion.app.uploads import image_type
from pixelmotion.jobs import moves
from pixelmotion.jobs.errors import InvalidRequest
from pixelmotion.jobs.models import Job
from pixelmotion.jobs.requests import build_spec
from pixelmotion.jobs.states import JobStatus
from pixelmotion.objects import ObjectNotFound, ObjectStore
from pixelmotion.objects.keys import content_type
from pixelmotion.objects.uploads import upload_key
from pixelmotion.providers.base import ProviderError, VideoProvider
from pixelmotion.store import Store, utcnow
from pixelmotion.store.jobs import KeyInFlight, KeyReused
from pixelmotion.store.webhooks import WebhookEndpoint
from pixelmotion.webhooks import new_secret

logger = logging.getLogger(__name__)

PRESIGNED_SECONDS = 900  # how long a redirect to the bucket (S3 storage) stays usable


@dataclass(frozen=True)
class Submission:
    """A job request as the API read it: the spec's fields and what they point at."""

    fields: dict[str, Any]  # build_spec's keyword arguments (prompt, width, …) but the palette
    palette: PaletteInput = None  # as given: a preset, hex colours or a palette file
    palette_from: str | None = None  # or the id of an earlier job of the caller's
    source_url: str | None = None
    source_upload_id: str | None = None
    keyframe_upload_id: str | None = None
    webhook_url: str | None = None
    webhook_events: str = "terminal"
    idempotency_key: str | None = None
    fingerprint: str = ""  # of the whole request body: the same key with another body is refused


@dataclass(frozen=True)
class Submitted:
    job: Job
    estimate: int
    replayed: bool  # an earlier request with the same Idempotency-Key made this job
    webhook_secret: str | None  # the job's own webhookUrl's secret, to verify our signatures


@dataclass(frozen=True)
class JobView:
    job: Job
    estimate: int
    queue_position: int | None = None


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    positions: dict[str, int]
    estimate: int
    next_cursor: str | None


@dataclass(frozen=True)
class Output:
    """A stored result: a local file, a redirect to the bucket, or the bytes themselves."""

    media_type: str
    path: str | None = None
    redirect: str | None = None
    data: bytes | None = None


# --- submit ----------------------------------------------------------------------------------


def submit(scope: UserScope, submission: Submission) -> Submitted:
    """Validate, then insert the job with its first event and enqueue it; no provider call."""
    user_id = scope.user_id
    spec = build_spec(
        **submission.fields,
        palette=chosen_palette(scope, submission.palette, submission.palette_from),
        template=scope.rules.prompt_template,
        source_url=submission.source_url,
        source_object_key=upload_source(scope, submission.source_upload_id),
    )
    spec = replace(spec, keyframe_object_key=keyframe(scope, submission.keyframe_upload_id))
    endpoint = own_webhook_endpoint(scope, submission.webhook_url)
    if endpoint is not None:
        spec = replace(spec, webhook_endpoint_id=endpoint.id, webhook_events=submission.webhook_events)
    key = None if submission.idempotency_key is None else (submission.idempotency_key, submission.fingerprint)
    try:
        inserted = scope.store.jobs.submit(
            spec,
            user_id=user_id,
            provider=scope.rules.provider,
            gate=limits_gate(spec, scope.rules.limits, scope.clock()),
            key=key,
            endpoint=endpoint,
            newest_endpoint_events=None if endpoint else submission.webhook_events,
        )
    except KeyReused:
        raise KeyReusedError(
            "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request body."
        ) from None
    except KeyInFlight:
        raise Conflict(
            "IDEMPOTENCY_KEY_IN_FLIGHT",
            "A request with this Idempotency-Key is being handled; retry shortly.",
        ) from None
    secret = inserted.endpoint.secret if inserted.endpoint else None
    return Submitted(inserted.job, scope.estimate(), not inserted.created, secret)


def upload_source(scope: UserScope, upload_id: str | None) -> str | None:
    """The stored key of an import's uploaded video; it must be the caller's own upload."""
    if upload_id is None:
        return None
    key = upload_key(scope.user_id, upload_id)
    if not scope.objects.exists(key):
        raise InvalidRequest({"source.uploadId": "no such upload for this user"})
    scope.store.uploads.mark_used(upload_id, scope.clock())  # kept now: it no longer expires unused
    return key


def keyframe(scope: UserScope, upload_id: str | None) -> str | None:
    """The stored image a generation starts from; it must be the caller's own image upload."""
    if upload_id is None:
        return None
    key = upload_key(scope.user_id, upload_id)
    try:
        head = object_head(scope.objects, key)
    except (ObjectNotFound, FileNotFoundError):
        raise InvalidRequest({"keyframe.uploadId": "no such upload for this user"}) from None
    if image_type(head) is None:
        raise InvalidRequest({"keyframe.uploadId": "the upload is not an image"})
    scope.store.uploads.mark_used(upload_id, scope.clock())
    return key


def object_head(objects: ObjectStore, key: str) -> bytes:
    """The first 16 bytes of a stored object; of a local file without reading it all (a
    submission may run on the event loop)."""
    path = objects.local_path(key)
    if path is None:
        return objects.get_bytes(key)[:16]
    with path.open("rb") as handle:
        return handle.read(16)


def own_webhook_endpoint(scope: UserScope, url: str | None) -> WebhookEndpoint | None:
    """The job's own ``webhookUrl``: the user's endpoint for it, or a new one the insert will
    make. Writes nothing. A job without one reports to the user's newest enabled endpoint,
    which the insert reads in its own transaction (``newest_endpoint_events``)."""
    if not url:
        return None
    webhooks = scope.store.webhooks
    return webhooks.find_endpoint(scope.user_id, url) or webhooks.new_endpoint(scope.user_id, url, new_secret)


# --- read ------------------------------------------------------------------------------------


def owned_job(scope: UserScope, job_id: str) -> Job:
    """The caller's job; another user's job is as unknown as a missing one."""
    job = scope.store.jobs.get(job_id, user_id=scope.user_id)
    if job is None:
        raise job_not_found(job_id)
    return job


def read(scope: UserScope, job_id: str) -> JobView:
    job = owned_job(scope, job_id)
    return JobView(job, scope.estimate(), scope.store.queue.queue_position(job))


def list_jobs(
    scope: UserScope,
    *,
    limit: int,
    before: datetime | None = None,
    project_id: str | None = None,
    status: JobStatus | None = None,
) -> JobPage:
    jobs = scope.store.jobs.list_for_user(
        scope.user_id, limit=limit, before=before, project_id=project_id, status=status
    )
    next_cursor = jobs[-1].created_at.isoformat() if len(jobs) == limit else None
    return JobPage(jobs, scope.store.queue.queue_positions(jobs), scope.estimate(), next_cursor)


# --- cancel, retry ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelResult:
    job: Job
    changed: bool


def cancel_job(store: Store, job: Job) -> CancelResult:
    """Cancel ``job`` (as read, perhaps a while ago): the move applies only if it is still
    unfinished; else the job as it now is."""
    moved = store.jobs.apply(job.id, moves.canceled())
    if moved is None:
        return CancelResult(store.jobs.get(job.id) or job, False)
    return CancelResult(moved, True)


def cancel(scope: UserScope, job_id: str, *, then: Callable[[str], Any] | None = None) -> JobView:
    """Cancel an unfinished job. ``then`` (a background-task adder) is handed the deletion of
    its provider generation, to run after the answer."""
    job = owned_job(scope, job_id)
    if job.is_terminal:
        raise finished(job)
    result = cancel_job(scope.store, job)
    if not result.changed:
        raise finished(result.job)
    if then is not None and result.job.luma_generation_id:
        then(result.job.luma_generation_id)
    return JobView(result.job, scope.estimate())


def finished(job: Job) -> Conflict:
    return Conflict("JOB_FINISHED", f"The job is already {job.status.value}.")


class NoPaidClip(Conflict):
    """A retry needs the clip we already paid for, and this job has none."""

    def __init__(self) -> None:
        super().__init__("NO_PAID_CLIP", "This job has no stored clip to reuse; create a new job.")


def retry_job(store: Store, job: Job, now: datetime | None = None) -> Job | None:
    """The one move back: a failed job whose paid clip we kept goes to processing again.

    None if the job is no longer failed (someone else retried it first)."""
    if not job.source_object_key:
        raise NoPaidClip()
    return store.jobs.apply(job.id, moves.retried(now or utcnow()))


def retry(scope: UserScope, job_id: str) -> JobView:
    """Process a failed job again from the clip we already paid for; no new generation."""
    job = owned_job(scope, job_id)
    if job.status is not JobStatus.FAILED:
        raise Conflict("JOB_NOT_FAILED", f"Only a failed job can be retried; this one is {job.status.value}.")
    retried = retry_job(scope.store, job, scope.clock())
    if retried is None:
        raise Conflict("JOB_NOT_FAILED", "The job changed meanwhile; fetch it again.")
    return JobView(retried, scope.estimate())


async def delete_generation(provider: VideoProvider, generation_id: str | None) -> None:
    """Drop a generation we no longer want (canceled, timed out); best effort."""
    if not generation_id:
        return
    try:
        await provider.delete(generation_id)
    except ProviderError as error:
        logger.warning("could not delete generation %s: %s", generation_id, error.message)


# --- results ---------------------------------------------------------------------------------


def completed_job(scope: UserScope, job_id: str) -> Job:
    job = owned_job(scope, job_id)
    if job.status is not JobStatus.COMPLETED or not job.frame_storage_urls:
        raise Conflict("JOB_NOT_COMPLETED", f"The job is {job.status.value}; results come when it completes.")
    return job


def output(scope: UserScope, job_id: str, name: str) -> Output:
    """A completed job's output: the file itself from a local store; from S3, a presigned
    GET URL, so the bytes go from the bucket to the client and never through this process."""
    key = (completed_job(scope, job_id).frame_storage_urls or {}).get(name)
    if key is None:
        raise NotFound("OUTPUT_NOT_FOUND", f"This job has no {name} output.")
    objects, media_type = scope.objects, content_type(name)
    path = objects.local_path(key)
    if path is not None:
        return Output(media_type, path=str(path))
    url = objects.presigned_url(key, PRESIGNED_SECONDS)
    if url is not None:
        # One HEAD first: after the retention period the job stays but its files are gone,
        # and a clean 404 beats sending the client to the bucket's own error.
        if not objects.exists(key):
            raise NotFound("OUTPUT_NOT_FOUND", f"The {name} output is no longer stored.")
        return Output(media_type, redirect=url)
    try:
        return Output(media_type, data=objects.get_bytes(key))
    except ObjectNotFound:
        raise NotFound("OUTPUT_NOT_FOUND", f"The {name} output is missing from storage.") from None


def frames(scope: UserScope, job_id: str, format: Literal["rgba", "indexed"]) -> Output:
    """The plan's frames JSON, gzip-compressed as stored: the file itself from a local store
    (never read whole here: the API streams it), else its bytes."""
    key = (completed_job(scope, job_id).frame_storage_urls or {}).get(
        "frames" if format == "rgba" else "indexed"
    )
    if key is None:
        raise NotFound("OUTPUT_NOT_FOUND", f"This job has no {format} frames.")
    missing = NotFound("OUTPUT_NOT_FOUND", "The frames are missing from storage.")
    path = scope.objects.local_path(key)
    if path is not None:
        if not path.is_file():
            raise missing
        return Output("application/json", path=str(path))
    try:
        return Output("application/json", data=scope.objects.get_bytes(key))
    except ObjectNotFound:
        raise missing from None
