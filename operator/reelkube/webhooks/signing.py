"""Webhook signatures as the Standard Webhooks specification defines them (standardwebhooks.com).

Every attempt carries three headers: ``webhook-id`` (the event's id, the same on every attempt),
``webhook-timestamp`` (the attempt's time, in whole seconds since the epoch) and, with a secret,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. Because the time is
signed, a receiver that checks it against its own clock (the reference libraries allow five
minutes) rejects a captured request replayed later; the id lets it drop duplicates.

Secrets: a value ``whsec_<base64>`` is the specification's form and its key is the decoded
bytes. Any other value is used as it is: its key is its exact bytes, and its ``whsec_`` form,
which a receiver hands to its library, is ``whsec_`` followed by the base64 of those bytes
(:func:`whsec`).

The older ``X-Reelkube-Signature`` header (HMAC-SHA256 of the body alone) is still sent beside
them, deprecated: it signs no time, so a captured request verifies forever.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

WHSEC_PREFIX = "whsec_"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
LEGACY_SIGNATURE_HEADER = "X-Reelkube-Signature"


def signing_key(secret: bytes) -> bytes:
    """The HMAC key of a secret as stored in its Secret: a ``whsec_`` value decoded, any other
    value's bytes as they are. Raises ValueError for a ``whsec_`` value that is not base64 or
    decodes to nothing."""
    if not secret.startswith(WHSEC_PREFIX.encode()):
        if not secret:
            raise ValueError("the webhook secret is empty")
        return secret
    encoded = secret[len(WHSEC_PREFIX) :].strip()
    try:
        key = base64.b64decode(encoded + b"=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the webhook secret starts with whsec_ but the rest is not base64") from exc
    if not key:
        raise ValueError("the webhook secret whsec_ holds no key")
    return key


def whsec(secret: bytes) -> str:
    """The ``whsec_<base64>`` form of a secret, the one Standard Webhooks libraries take."""
    return WHSEC_PREFIX + base64.b64encode(signing_key(secret)).decode("ascii")


def standard_signature(key: bytes, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode("ascii")


def standard_headers(message_id: str, timestamp: int, body: bytes, key: bytes | None) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt; without a key, only the id and the time."""
    headers = {ID_HEADER: message_id, TIMESTAMP_HEADER: str(timestamp)}
    if key is not None:
        headers[SIGNATURE_HEADER] = standard_signature(key, message_id, timestamp, body)
    return headers


def sign(body: bytes, secret: bytes) -> str:
    """The deprecated ``X-Reelkube-Signature`` value for ``body``: ``sha256=<hex HMAC-SHA256>``,
    keyed with the secret's bytes as written (a ``whsec_`` value is not decoded here)."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, secret: bytes, header: str | None) -> bool:
    """Whether ``header`` is the valid deprecated signature of ``body`` (constant-time). New
    receivers verify the Standard Webhooks headers with a Standard Webhooks library instead."""
    return header is not None and hmac.compare_digest(sign(body, secret), header)
