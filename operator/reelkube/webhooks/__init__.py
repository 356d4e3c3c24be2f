"""Webhooks: JSON events POSTed to the URL a resource names, signed as the Standard Webhooks
specification says, retried, and recorded in ``status.webhook.deliveries``."""

from reelkube.webhooks.delivery import DELIVERY_HEADER, EVENT_HEADER, deliver, is_subscribed
from reelkube.webhooks.payload import (
    event_id,
    event_payload,
    forwarded,
    progress_milestone,
    transition_time,
)
from reelkube.webhooks.signing import (
    ID_HEADER,
    LEGACY_SIGNATURE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signing_key,
    verify_signature,
    whsec,
)

__all__ = [
    "DELIVERY_HEADER",
    "EVENT_HEADER",
    "ID_HEADER",
    "LEGACY_SIGNATURE_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "deliver",
    "event_id",
    "event_payload",
    "forwarded",
    "is_subscribed",
    "progress_milestone",
    "sign",
    "signing_key",
    "transition_time",
    "verify_signature",
    "whsec",
]
