"""Webhooks out: a user's endpoints (each with its signing secret) and a job's deliveries."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from pixelmotion.api.deps import Scope
from pixelmotion.api.schemas import DeliveryResponse, WebhookEndpointRequest, WebhookEndpointResponse
from pixelmotion.app import webhooks as use_cases
from pixelmotion.store.webhooks import WebhookEndpoint

router = APIRouter(tags=["webhooks"])


def endpoint_view(endpoint: WebhookEndpoint) -> WebhookEndpointResponse:
    return WebhookEndpointResponse(
        id=endpoint.id,
        url=endpoint.url,
        secret=endpoint.secret,
        disabled=endpoint.disabled,
        created_at=endpoint.created_at,
    )


@router.post(
    "/v1/webhooks", status_code=201, response_model=WebhookEndpointResponse, response_model_by_alias=True
)
def register(body: WebhookEndpointRequest, scope: Scope) -> WebhookEndpointResponse:
    """Register an endpoint for all your jobs (a job's own ``webhookUrl`` takes precedence).
    The answer shows its ``whsec_`` secret: verify our signatures with it."""
    return endpoint_view(use_cases.register(scope, body.url))


@router.get("/v1/webhooks", response_model=list[WebhookEndpointResponse], response_model_by_alias=True)
def endpoints(scope: Scope) -> list[WebhookEndpointResponse]:
    return [endpoint_view(e) for e in use_cases.endpoints(scope)]


@router.get(
    "/v1/jobs/{job_id}/deliveries", response_model=list[DeliveryResponse], response_model_by_alias=True
)
def deliveries(job_id: str, scope: Scope) -> list[DeliveryResponse]:
    """The job's webhook deliveries: what was sent, what the receiver answered, what is next."""
    return [DeliveryResponse(**asdict(d)) for d in use_cases.deliveries(scope, job_id)]


@router.post(
    "/v1/jobs/{job_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryResponse,
    response_model_by_alias=True,
)
def redeliver(job_id: str, delivery_id: str, scope: Scope) -> DeliveryResponse:
    return DeliveryResponse(**asdict(use_cases.redeliver(scope, job_id, delivery_id)))
