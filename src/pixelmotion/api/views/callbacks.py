"""Provider callbacks: authenticate the URL, record the body, apply the state, answer 200
(``app/callbacks.py``). Luma counts only HTTP 200 as delivered."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from pixelmotion.api.deps import ServicesDep
from pixelmotion.app.callbacks import handle_callback
from pixelmotion.bootstrap import Services

router = APIRouter(tags=["callbacks"])


async def receive(services: Services, request: Request, job_id: str, token: str | None) -> dict[str, Any]:
    """A callback is the provider's, not a user's: it acts on the service's store, and its
    URL's token names the one job it may touch."""
    outcome = await run_in_threadpool(
        handle_callback,
        services.repository,
        services.settings.verifying_keys,
        job_id,
        token,
        await request.body(),
        grace_seconds=services.settings.callback_grace_seconds,
        deadline_seconds=services.settings.job_deadline_seconds,
        count=lambda outcome: services.metrics.callbacks.labels(outcome.value).inc(),
    )
    return {"received": True, "outcome": outcome.value}


@router.post("/v1/callbacks/luma/{job_id}")
async def luma_callback(
    job_id: str, request: Request, services: ServicesDep, token: str | None = Query(None)
) -> dict[str, Any]:
    return await receive(services, request, job_id, token)


@router.post("/functions/v1/video-webhook", tags=["plan"])
async def plan_webhook(
    request: Request,
    services: ServicesDep,
    job_id: str = Query(alias="jobId"),
    token: str | None = Query(None),
) -> dict[str, Any]:
    """The plan's webhook route, kept so URLs it issued still work."""
    return await receive(services, request, job_id, token)
