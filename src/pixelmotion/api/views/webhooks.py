"""Webhooks out: a user's endpoints (each with its signing secret) and a job's deliveries."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from pixelmotion.api.auth import CurrentCaller
from pixelmotion.api.deps import ServicesDep
from pixelmotion.api.errors import ApiError
from pixelmotion.api.schemas import DeliveryResponse, WebhookEndpointRequest, WebhookEndpointResponse
from pixelmotion.api.views.jobs import owned_job
from pixelmotion.store.webhooks import WebhookEndpoint
from pixelmotion.webhooks import new_secret

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
def register(
    body: WebhookEndpointRequest, caller: CurrentCaller, services: ServicesDep
) -> WebhookEndpointResponse:
    """Register an endpoint for all your jobs (a job's own ``webhookUrl`` takes precedence).
    The answer shows its ``whsec_`` secret: verify our signatures with it."""
    endpoint = services.repository.webhooks.endpoint(caller.user_id, body.url, new_secret=new_secret)
    return endpoint_view(endpoint)


@router.get("/v1/webhooks", response_model=list[WebhookEndpointResponse], response_model_by_alias=True)
def endpoints(caller: CurrentCaller, services: ServicesDep) -> list[WebhookEndpointResponse]:
    return [endpoint_view(e) for e in services.repository.webhooks.endpoints_of(caller.user_id)]


@router.get(
    "/v1/jobs/{job_id}/deliveries", response_model=list[DeliveryResponse], response_model_by_alias=True
)
def deliveries(job_id: str, caller: CurrentCaller, services: ServicesDep) -> list[DeliveryResponse]:
    """The job's webhook deliveries: what was sent, what the receiver answered, what is next."""
    job = owned_job(services, caller.user_id, job_id)
    return [DeliveryResponse(**asdict(d)) for d in services.repository.webhooks.deliveries_for(job.id)]


@router.post(
    "/v1/jobs/{job_id}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryResponse,
    response_model_by_alias=True,
)
def redeliver(
    job_id: str, delivery_id: str, caller: CurrentCaller, services: ServicesDep
) -> DeliveryResponse:
    job = owned_job(services, caller.user_id, job_id)
    delivery = services.repository.webhooks.redeliver(job.id, delivery_id)
    if delivery is None:
        raise ApiError(404, "DELIVERY_NOT_FOUND", f"No delivery {delivery_id} for this job.")
    return DeliveryResponse(**asdict(delivery))
