"""The plan's Supabase Edge Function route, so its existing client keeps working."""

from __future__ import annotations

from fastapi import APIRouter

from pixelmotion.api.auth import CurrentCaller
from pixelmotion.api.deps import ServicesDep
from pixelmotion.api.schemas import CreateJobRequest, PlanCreateResponse
from pixelmotion.api.views.jobs import IdempotencyKey, accept_job

router = APIRouter(tags=["plan"])


@router.post(
    "/functions/v1/video-generate",
    status_code=202,
    response_model=PlanCreateResponse,
    response_model_by_alias=True,
)
def video_generate(
    body: CreateJobRequest,
    caller: CurrentCaller,
    services: ServicesDep,
    idempotency_key: IdempotencyKey = None,
) -> PlanCreateResponse:
    answer, _ = accept_job(services, caller.user_id, body, idempotency_key)
    return PlanCreateResponse(success=True, data=answer)
