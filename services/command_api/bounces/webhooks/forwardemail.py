"""Forward Email's bounce webhook: ``POST /webhooks/service/forwardemail``.

As listmonk's ``internal/bounce/webhooks/forwardemail.go``: ``X-Webhook-Signature`` is the hex
HMAC-SHA256 of the body with the ``bounce.forwardemail`` key (compared in constant time); no key
configured refuses everything. Bounce categories ``block``, ``recipient``, ``virus`` and
``spam`` are hard, the rest soft.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from services.command_api.bounces.intake import BounceInput
from services.command_api.bounces.webhooks.common import (
    WebhookRefused,
    decode,
    go_time,
    obj,
    string,
    zero_to_none,
)

SIGNATURE_HEADER = "X-Webhook-Signature"
CAMPAIGN_HEADER = "X-Listmonk-Campaign"
_HARD = ("block", "recipient", "virus", "spam")


def signature(key: str, body: bytes) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def process(key: str, signature_hex: str, body: bytes) -> list[BounceInput]:
    if not key:
        raise WebhookRefused("webhook key is not configured")
    try:
        given = bytes.fromhex(signature_hex)
    except ValueError:
        raise WebhookRefused("invalid signature encoding") from None
    if not hmac.compare_digest(bytes.fromhex(signature(key, body)), given):
        raise WebhookRefused("invalid signature")
    record = decode(body, "Forwardemail notification")
    if not isinstance(record, dict):
        raise WebhookRefused("Forwardemail notification is not an object")
    kind: Any = "hard" if obj(record.get("bounce")).get("category") in _HARD else "soft"
    return [BounceInput(
        kind=kind, source="forwardemail", email=string(record.get("recipient")).lower(),
        campaign_uuid=string(obj(record.get("headers")).get(CAMPAIGN_HEADER)), meta=record,
        created_at=zero_to_none(go_time(record.get("bounced_at"), "bounced_at")))]
