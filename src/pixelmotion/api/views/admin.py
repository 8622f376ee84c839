"""Admin routes for the operator (a ``service_role`` token): any user's job, requeue, usage."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Query

from pixelmotion.api.auth import ServiceCaller
from pixelmotion.api.deps import ServicesDep
from pixelmotion.api.errors import ApiError
from pixelmotion.api.schemas import JobResponse
from pixelmotion.jobs.pricing import estimated_cost_usd
from pixelmotion.store.rows import utcnow

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/jobs/{job_id}", response_model=JobResponse, response_model_by_alias=True)
def any_job(job_id: str, _: ServiceCaller, services: ServicesDep) -> JobResponse:
    job = services.repository.jobs.get(job_id)
    if job is None:
        raise ApiError(404, "JOB_NOT_FOUND", f"No job {job_id}.")
    return JobResponse.of(job, estimate=services.estimator.seconds())


@router.post("/jobs/{job_id}/requeue", response_model=JobResponse, response_model_by_alias=True)
def requeue(job_id: str, _: ServiceCaller, services: ServicesDep) -> JobResponse:
    """Make an unfinished job's next step due now (e.g. after fixing the provider key)."""
    job = services.repository.queue.requeue(job_id)
    if job is None:
        raise ApiError(409, "JOB_NOT_ACTIVE", "Only an unfinished job can be requeued.")
    return JobResponse.of(job, estimate=services.estimator.seconds())


@router.get("/usage")
def usage(_: ServiceCaller, services: ServicesDep, days: int = Query(1, ge=1, le=90)) -> dict[str, Any]:
    """Jobs and estimated provider spend per user over the last ``days`` days."""
    since = utcnow() - timedelta(days=days)
    per_user: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"jobs": 0, "byStatus": {}, "estimatedCostUsd": 0.0}
    )
    for row in services.repository.usage.by_user(since):
        entry = per_user[row.user_id]
        entry["jobs"] += 1
        entry["byStatus"][row.status] = entry["byStatus"].get(row.status, 0) + 1
        if row.provider != "import":
            cost = estimated_cost_usd(row.model, row.resolution, row.aspect_ratio, row.duration)
            entry["estimatedCostUsd"] = round(entry["estimatedCostUsd"] + cost, 4)
    return {"since": since.isoformat().replace("+00:00", "Z"), "users": dict(per_user)}
