"""Webhooks: signed JSON events POSTed to the URL a resource names, with retries."""

from reelkube.webhooks.delivery import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    deliver,
    is_subscribed,
    sign,
    verify_signature,
)
from reelkube.webhooks.payload import event_payload

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "SIGNATURE_HEADER",
    "deliver",
    "event_payload",
    "is_subscribed",
    "sign",
    "verify_signature",
]
