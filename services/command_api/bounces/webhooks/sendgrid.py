"""SendGrid's signed event webhook: ``POST /webhooks/service/sendgrid``.

As listmonk's ``internal/bounce/webhooks/sendgrid.go``: the ``bounce.sendgrid_key`` setting is
the webhook's verification key (base64 of a DER public key, ECDSA); every request must carry
``X-Twilio-Email-Event-Webhook-Signature`` (base64 of a DER ECDSA signature) over SHA-256 of
``X-Twilio-Email-Event-Webhook-Timestamp`` followed by the body. A key that does not parse
leaves the service off (listmonk logs it and answers "Unknown service."). The body is an array
of events; each ``bounce`` is recorded (hard unless classified ``technical`` or ``content``),
with the whole body as its meta, as listmonk.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from services.command_api.bounces.intake import BounceInput
from services.command_api.bounces.webhooks.common import WebhookRefused, decode, obj, string

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def public_key(setting: str) -> ec.EllipticCurvePublicKey | None:
    """The verification key of ``bounce.sendgrid_key``; None if it is not one."""
    try:
        key = serialization.load_der_public_key(base64.b64decode(setting, validate=True))
    except (ValueError, binascii.Error, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def process(key: ec.EllipticCurvePublicKey, signature: str, timestamp: str, body: bytes
            ) -> list[BounceInput]:
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise WebhookRefused("invalid signature") from None
    events = decode(body, "Sendgrid notification")
    if not isinstance(events, list):
        raise WebhookRefused("Sendgrid notification is not an array")
    out: list[BounceInput] = []
    for item in events:
        event = obj(item)
        if event.get("event") != "bounce":
            continue
        kind: Any = ("soft" if event.get("bounce_classification") in ("technical", "content")
                     else "hard")
        stamp = event.get("timestamp")
        at = (datetime.fromtimestamp(stamp, UTC) if isinstance(stamp, int)
              and 0 < stamp < 253402300800 else None)
        out.append(BounceInput(kind=kind, source="sendgrid",
                               email=string(event.get("email")).lower(),
                               campaign_uuid=string(event.get("XListmonkCampaign")),
                               meta=events, created_at=at))
    return out
