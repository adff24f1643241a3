"""Azure Communication Services through Event Grid: ``POST /webhooks/service/azure``.

As listmonk's ``internal/bounce/webhooks/azure.go``: an ``aeg-event-type:
SubscriptionValidation`` request is Event Grid's validation handshake, answered with
``{"validationResponse": <the first event's data.validationCode>}``. Event deliveries
(``aeg-event-type`` ``Notification`` or absent) must carry the ``bounce.azure`` shared secret,
in the ``code`` query parameter or in the configured header (default
``X-Listmonk-Webhook-Secret``), compared in constant time; as listmonk, without a configured
secret deliveries are accepted. Each ``Microsoft.Communication.EmailDeliveryReportReceived``
event whose status maps to a bounce kind is recorded, with the event as its meta.
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime
from typing import Any

import msgspec

from events.settings import BounceAzure
from services.command_api.bounces.intake import BounceInput
from services.command_api.bounces.webhooks.common import WebhookRefused, decode, obj, string

DEFAULT_SECRET_HEADER = "X-Listmonk-Webhook-Secret"
SECRET_PARAM = "code"
DELIVERY_REPORT = "Microsoft.Communication.EmailDeliveryReportReceived"
_SMTP_STATUS = re.compile(r"\b([245]\.\d\.\d)\b")


def _events(body: bytes) -> list[Any]:
    events = decode(body, "azure notification array")
    if not isinstance(events, list):
        raise WebhookRefused("azure notification is not an array")
    return events


def validation_response(body: bytes) -> bytes:
    """The answer to Event Grid's subscription validation."""
    events = _events(body)
    if not events:
        raise WebhookRefused("empty event payload")
    data = obj(events[0]).get("data")
    if not isinstance(data, dict):
        raise WebhookRefused("missing event data")
    code = string(data.get("validationCode")).strip()
    if not code:
        raise WebhookRefused("missing validationCode in subscription payload")
    return msgspec.json.encode({"validationResponse": code})


def _secrets_equal(expected: str, given: str) -> bool:
    return bool(expected and given) and hmac.compare_digest(expected.encode(), given.encode())


def check_secret(config: BounceAzure, query_secret: str, headers: Any) -> None:
    secret = config.shared_secret.strip()
    if not secret:
        return
    if _secrets_equal(secret, query_secret.strip()):
        return
    header = config.shared_secret_header.strip() or DEFAULT_SECRET_HEADER
    if _secrets_equal(secret, str(headers.get(header) or "").strip()):
        return
    raise WebhookRefused("invalid azure event grid shared secret")


def kind_of(status: str, details: str) -> str | None:
    """listmonk's ``mapAzureStatus``."""
    s, d = status.strip().lower(), details.strip().lower()
    if s in ("bounced", "suppressed"):
        return "hard"
    if s == "failed":
        found = _SMTP_STATUS.search(d)
        if found and found.group(1)[0] in "45":
            return "hard" if found.group(1).startswith("5.") else "soft"
        if any(w in d for w in ("mailbox full", "temporar", "timeout", "rate limit",
                                "throttle")):
            return "soft"
        if any(w in d for w in ("invalid", "does not exist", "unknown user", "domain")):
            return "hard"
        return "soft"
    if s in ("filteredspam", "quarantined"):
        return "complaint" if any(w in d for w in ("complaint", "abuse")) else "soft"
    return None


def process(config: BounceAzure, query_secret: str, headers: Any, body: bytes
            ) -> list[BounceInput]:
    check_secret(config, query_secret, headers)
    out: list[BounceInput] = []
    for item in _events(body):
        event = obj(item)
        if event.get("eventType") != DELIVERY_REPORT:
            continue
        data = obj(event.get("data"))
        kind: Any = kind_of(string(data.get("status")),
                            string(obj(data.get("deliveryStatusDetails")).get("statusMessage")))
        email = string(data.get("recipient")).strip().lower()
        if kind is None or not email:
            continue
        stamp = data.get("deliveryAttemptTimestamp") or data.get("deliveryAttemptTimeStamp")
        at: datetime | None = None
        if isinstance(stamp, str):
            try:
                at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
            except ValueError:
                raise WebhookRefused("error unmarshalling azure event: time") from None
            if at.tzinfo is None or at.year <= 1:
                at = None
        out.append(BounceInput(kind=kind, source="azure", email=email, meta=event,
                               created_at=at))
    return out
