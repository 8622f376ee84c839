"""Sending the outbox: claim a due delivery, POST it signed, record what happened.

Only 2xx counts (redirects are failures, not followed); 410 Gone disables the endpoint; any
other failure is tried again on the schedule. URLs pass the same SSRF guard as downloads.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import timedelta

import httpx

from pixelmotion.media.guard import AddressGuard, BlockedAddress, GuardedTransport
from pixelmotion.store import Store, utcnow
from pixelmotion.store.webhooks import WebhookDelivery, WebhookEndpoint
from pixelmotion.webhooks.schedule import next_delay
from pixelmotion.webhooks.signing import signed_headers

logger = logging.getLogger(__name__)

LEASE_SECONDS = 60.0


@dataclass(frozen=True)
class DeliverySettings:
    guard: AddressGuard
    schedule: tuple[float, ...]
    timeout_seconds: float = 15.0
    poll_seconds: float = 0.5


def deliver_one(repository: Store, settings: DeliverySettings) -> bool:
    """Deliver one due message, if any; False when none was due."""
    delivery = repository.webhooks.claim_delivery(lease_seconds=LEASE_SECONDS)
    if delivery is None:
        return False
    endpoint = repository.webhooks.endpoint_by_id(delivery.endpoint_id)
    if endpoint is None or endpoint.disabled:
        repository.webhooks.finish_delivery(
            delivery.id, status="failed", status_code=None, error="endpoint disabled", next_attempt_at=None
        )
        return True
    status_code, error = post(endpoint, delivery, settings)
    record(repository, delivery, endpoint, status_code, error, settings)
    return True


def post(
    endpoint: WebhookEndpoint, delivery: WebhookDelivery, settings: DeliverySettings
) -> tuple[int | None, str | None]:
    body = json.dumps(delivery.payload, separators=(",", ":"))
    headers = signed_headers(endpoint.secret, delivery.id, utcnow(), body)
    transport = GuardedTransport(settings.guard)
    try:
        with httpx.Client(
            transport=transport, timeout=settings.timeout_seconds, follow_redirects=False
        ) as client:
            response = client.post(endpoint.url, content=body, headers=headers)
    except BlockedAddress as blocked:
        return None, f"refused: {blocked}"
    except httpx.HTTPError as failure:
        return None, f"{type(failure).__name__}"
    return response.status_code, None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"


def record(
    repository: Store,
    delivery: WebhookDelivery,
    endpoint: WebhookEndpoint,
    status_code: int | None,
    error: str | None,
    settings: DeliverySettings,
) -> None:
    if status_code is not None and 200 <= status_code < 300:
        repository.webhooks.finish_delivery(
            delivery.id, status="succeeded", status_code=status_code, error=None, next_attempt_at=None
        )
        return
    if status_code == 410:
        logger.warning("webhook endpoint %s answered 410 Gone: disabled", endpoint.id)
        repository.webhooks.disable_endpoint(endpoint.id)
        repository.webhooks.finish_delivery(
            delivery.id, status="failed", status_code=410, error="endpoint gone", next_attempt_at=None
        )
        return
    delay = next_delay(delivery.attempts, settings.schedule)
    when = None if delay is None else utcnow() + timedelta(seconds=delay)
    status = "pending" if when is not None else "failed"
    repository.webhooks.finish_delivery(
        delivery.id, status=status, status_code=status_code, error=error, next_attempt_at=when
    )


async def run_deliverer(repository: Store, settings: DeliverySettings) -> None:
    """Deliver due messages forever; a few at once, since receivers may be slow."""
    while True:
        try:
            rounds = [asyncio.to_thread(deliver_one, repository, settings) for _ in range(4)]
            busy = any(await asyncio.gather(*rounds))
        except Exception:  # the database is away: wait and try again
            logger.warning("webhook deliverer failed a round", exc_info=True)
            busy = False
        if not busy:
            await asyncio.sleep(settings.poll_seconds)
