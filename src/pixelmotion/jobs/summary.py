"""A job as others are told about it (webhook payloads): small, camelCase, no secrets."""

from __future__ import annotations

from typing import Any

from pixelmotion.jobs.models import Job
from pixelmotion.jobs.states import JobStatus
from pixelmotion.objects.keys import OUTPUT_FILES

# The results served by name under /v1/jobs/{id}/ (the frames JSON has its own route).
SERVED = ("sheet", "sheetJson", "gif", "webp", "apng", "zip", "aseprite", "sheetHash", "sheetArray", "godot")
OUTPUT_NAMES = {name: OUTPUT_FILES[name] for name in SERVED}


def outputs_of(job: Job) -> dict[str, str]:
    """API paths of the results a completed job has."""
    if job.status is not JobStatus.COMPLETED or not job.frame_storage_urls:
        return {}
    base = f"/v1/jobs/{job.id}"
    links = {"frames": f"{base}/frames", "indexed": f"{base}/frames?format=indexed"}
    links.update(
        {key: f"{base}/{name}" for key, name in OUTPUT_NAMES.items() if key in job.frame_storage_urls}
    )
    return links


def summary(job: Job) -> dict[str, Any]:
    error = {"code": job.error_code, "message": job.error_message or ""} if job.error_code else None
    return {
        "jobId": job.id,
        "status": job.status.value,
        "progress": job.progress,
        "progressMessage": job.progress_message,
        "totalFrames": job.total_frames,
        "error": error,
        "projectId": job.project_id,
        "outputs": outputs_of(job),
        "updatedAt": job.updated_at.isoformat().replace("+00:00", "Z"),
    }


def event_type(job: Job) -> str:
    """``job.completed``, ``job.failed``, ``job.canceled``, or ``job.progress`` for the rest."""
    return f"job.{job.status.value}" if job.is_terminal else "job.progress"
