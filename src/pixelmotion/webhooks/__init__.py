"""Signed webhooks out (Standard Webhooks): an outbox written with each job change, sent by
the worker's deliverer."""

from pixelmotion.webhooks.deliverer import DeliverySettings, deliver_one, run_deliverer
from pixelmotion.webhooks.signing import new_secret, signed_headers

__all__ = ["DeliverySettings", "deliver_one", "new_secret", "run_deliverer", "signed_headers"]
