"""Webhooks out, as a user sees them: their endpoints (each with its signing secret) and a
job's deliveries, which they may send again."""

from __future__ import annotations

from pixelmotion.app.errors import NotFound
from pixelmotion.app.jobs import owned_job
from pixelmotion.app.ports import UserScope
from pixelmotion.store.webhooks import WebhookDelivery, WebhookEndpoint
from pixelmotion.webhooks import new_secret


def register(scope: UserScope, url: str) -> WebhookEndpoint:
    """The caller's endpoint for ``url``, made with a fresh ``whsec_`` secret on first use."""
    return scope.store.webhooks.endpoint(scope.user_id, url, new_secret=new_secret)


def endpoints(scope: UserScope) -> list[WebhookEndpoint]:
    return scope.store.webhooks.endpoints_of(scope.user_id)


def deliveries(scope: UserScope, job_id: str) -> list[WebhookDelivery]:
    """The job's deliveries: what was sent, what the receiver answered, what is next."""
    return scope.store.webhooks.deliveries_for(owned_job(scope, job_id).id)


def redeliver(scope: UserScope, job_id: str, delivery_id: str) -> WebhookDelivery:
    delivery = scope.store.webhooks.redeliver(owned_job(scope, job_id).id, delivery_id)
    if delivery is None:
        raise NotFound("DELIVERY_NOT_FOUND", f"No delivery {delivery_id} for this job.")
    return delivery
