"""The plan's Supabase Edge Function route, so its existing client keeps working."""

from __future__ import annotations

from fastapi import APIRouter

from pixelmotion.api.deps import Scope
from pixelmotion.api.schemas import CreateJobRequest, PlanCreateResponse
from pixelmotion.api.submit import IdempotencyKey, created

router = APIRouter(tags=["plan"])


@router.post(
    "/functions/v1/video-generate",
    status_code=202,
    response_model=PlanCreateResponse,
    response_model_by_alias=True,
)
def video_generate(
    body: CreateJobRequest, scope: Scope, idempotency_key: IdempotencyKey = None
) -> PlanCreateResponse:
    answer, _ = created(scope, body, idempotency_key)
    return PlanCreateResponse(success=True, data=answer)
