"""Lettermint's webhook: ``POST /webhooks/service/lettermint``.

As listmonk's ``internal/bounce/webhooks/lettermint.go``: ``X-Lettermint-Signature`` is
``t=<unix time>,v1=<hex HMAC-SHA256>`` of ``"<t>.<body>"`` with the ``bounce.lettermint`` key;
the time must be within 300 seconds of now (a replayed request is refused); no key configured
refuses everything. ``message.hard_bounced``, ``message.soft_bounced`` and
``message.spam_complaint`` are recorded; other events (``webhook.test``...) are accepted and
ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from typing import Any

from services.command_api.bounces.intake import BounceInput
from services.command_api.bounces.webhooks.common import WebhookRefused, decode, obj, string

SIGNATURE_HEADER = "X-Lettermint-Signature"
CAMPAIGN_HEADER = "X-Listmonk-Campaign"
TOLERANCE_SECONDS = 300
_KINDS = {"message.hard_bounced": "hard", "message.soft_bounced": "soft",
          "message.spam_complaint": "complaint"}


def signature(key: str, timestamp: int, body: bytes) -> str:
    return hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse_header(header: str) -> tuple[int, str]:
    timestamp, digest = 0, ""
    for part in header.split(","):
        name, eq, value = part.strip().partition("=")
        if not eq:
            continue
        if name == "t":
            try:
                timestamp = int(value.strip().split()[0]) if value.strip() else 0
            except ValueError:
                raise WebhookRefused("invalid timestamp in signature") from None
        elif name == "v1":
            digest = value
    if timestamp == 0 or not digest:
        raise WebhookRefused("invalid signature format")
    return timestamp, digest


def process(key: str, header: str, body: bytes, now: float | None = None
            ) -> list[BounceInput]:
    if not key:
        raise WebhookRefused("webhook key is not configured")
    timestamp, digest = _parse_header(header)
    if abs((now if now is not None else time.time()) - timestamp) > TOLERANCE_SECONDS:
        raise WebhookRefused("signature timestamp expired")
    try:
        given = bytes.fromhex(digest.strip())
    except ValueError:
        raise WebhookRefused("invalid signature encoding") from None
    if not hmac.compare_digest(bytes.fromhex(signature(key, timestamp, body)), given):
        raise WebhookRefused("invalid signature")
    record = decode(body, "Lettermint notification")
    if not isinstance(record, dict):
        raise WebhookRefused("Lettermint notification is not an object")
    kind: Any = _KINDS.get(string(record.get("event")))
    if kind is None:
        return []
    data = obj(record.get("data"))
    metadata = data.get("metadata")
    campaign = string(metadata.get(CAMPAIGN_HEADER)) if isinstance(metadata, dict) else ""
    try:
        at: datetime | None = datetime.fromisoformat(
            string(record.get("timestamp")).replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is not None and at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return [BounceInput(kind=kind, source="lettermint",
                        email=string(data.get("recipient")).lower(), campaign_uuid=campaign,
                        meta=record, created_at=at)]
