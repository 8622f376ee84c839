"""Provider callbacks: authenticate the URL, record the body, apply the state, answer 200.

Luma signs nothing and counts only HTTP 200 as delivered, so the job's URL carries an HMAC
token; anything heavier than a compare-and-set is left to the worker.
"""

from __future__ import annotations

import json
import logging
import math
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from pixelmotion.api.deps import ServicesDep

if TYPE_CHECKING:
    from pixelmotion.bootstrap import Services
from pixelmotion.api.errors import ApiError
from pixelmotion.providers.base import parse_generation
from pixelmotion.security import verify_callback_token
from pixelmotion.service import CallbackOutcome, receive_callback

logger = logging.getLogger(__name__)
router = APIRouter(tags=["callbacks"])

MAX_CALLBACK_BYTES = 256 * 1024


async def handle_callback(
    services: Services, request: Request, job_id: str, token: str | None
) -> dict[str, Any]:
    if not verify_callback_token(services.settings.verifying_keys, job_id, token):
        raise ApiError(401, "INVALID_CALLBACK_TOKEN", "The callback URL's token is missing or wrong.")
    raw = await request.body()
    if len(raw) > MAX_CALLBACK_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", "The callback body is too large.")
    try:
        payload = json.loads(raw)
        problem = _unstorable(payload)
        if problem is not None:
            raise ValueError(f"it holds {problem}")
        generation = parse_generation(payload)
    except (ValueError, TypeError, RecursionError) as error:  # RecursionError: nested too deep
        raise ApiError(
            400, "INVALID_CALLBACK", f"The callback body is not a Generation object: {error}"
        ) from None
    job = await run_in_threadpool(services.repository.jobs.get, job_id)
    if job is None:
        raise ApiError(404, "JOB_NOT_FOUND", f"No job {job_id}.")
    outcome = await run_in_threadpool(
        receive_callback,
        services.repository,
        job,
        generation,
        grace_seconds=services.settings.callback_grace_seconds,
        deadline_seconds=services.settings.job_deadline_seconds,
    )
    services.metrics.callbacks.labels(outcome.value).inc()
    if outcome is CallbackOutcome.REFUSED:
        logger.warning("job %s: callback names generation %s, not the job's", job_id, generation.id)
        raise ApiError(409, "GENERATION_MISMATCH", "This callback names another generation than the job's.")
    return {"received": True, "outcome": outcome.value}


def _unstorable(value: Any) -> str | None:
    """What the body holds that plain JSON, as Luma sends it, never does and PostgreSQL's
    text and JSONB cannot store (the body is kept): NUL, a lone surrogate, NaN or Infinity."""
    if isinstance(value, dict | list):
        parts = [*value.keys(), *value.values()] if isinstance(value, dict) else value
        for part in parts:
            problem = _unstorable(part)
            if problem is not None:
                return problem
    elif isinstance(value, str):
        if "\x00" in value:
            return "a NUL character"
        try:
            value.encode()
        except UnicodeEncodeError:
            return "a lone surrogate"
    elif isinstance(value, float) and not math.isfinite(value):
        return "a number JSON cannot hold"
    return None


@router.post("/v1/callbacks/luma/{job_id}")
async def luma_callback(
    job_id: str, request: Request, services: ServicesDep, token: str | None = Query(None)
) -> dict[str, Any]:
    return await handle_callback(services, request, job_id, token)


@router.post("/functions/v1/video-webhook", tags=["plan"])
async def plan_webhook(
    request: Request,
    services: ServicesDep,
    job_id: str = Query(alias="jobId"),
    token: str | None = Query(None),
) -> dict[str, Any]:
    """The plan's webhook route, kept so URLs it issued still work."""
    return await handle_callback(services, request, job_id, token)
