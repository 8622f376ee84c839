"""Admin routes for the operator (a ``service_role`` token): any user's job, requeue, usage.
They alone get the service's store (``AdminScope``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from pixelmotion.api.deps import AdminScope, ServicesDep
from pixelmotion.api.schemas import JobResponse
from pixelmotion.app import admin as use_cases

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/jobs/{job_id}", response_model=JobResponse, response_model_by_alias=True)
def any_job(job_id: str, scope: AdminScope, services: ServicesDep) -> JobResponse:
    return JobResponse.of(use_cases.any_job(scope, job_id), estimate=services.estimator.seconds())


@router.post("/jobs/{job_id}/requeue", response_model=JobResponse, response_model_by_alias=True)
def requeue(job_id: str, scope: AdminScope, services: ServicesDep) -> JobResponse:
    """Make an unfinished job's next step due now (e.g. after fixing the provider key)."""
    return JobResponse.of(use_cases.requeue(scope, job_id), estimate=services.estimator.seconds())


@router.get("/usage")
def usage(scope: AdminScope, days: int = Query(1, ge=1, le=90)) -> dict[str, Any]:
    """Jobs and estimated provider spend per user over the last ``days`` days."""
    since, per_user = use_cases.usage(scope, days)
    return {"since": since.isoformat().replace("+00:00", "Z"), "users": per_user}
