"""Postmark's bounce webhook: ``POST /webhooks/service/postmark``.

As listmonk's ``internal/bounce/webhooks/postmark.go``: HTTP Basic auth with the
``bounce.postmark`` username and password (compared in constant time). Without configured
credentials every request is refused (400, "Invalid data"); wrong or missing credentials get
listmonk's (echo's) 401 ``Unauthorized`` with ``WWW-Authenticate: basic realm=Restricted``.
Only ``Bounce`` and ``SpamComplaint`` records count (others are accepted and ignored); the
bounce type maps to hard, soft or complaint, an unknown type is refused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from events.settings import BouncePostmark
from services.command_api.bounces.intake import BounceInput
from services.command_api.bounces.webhooks.common import (
    WebhookRefused,
    decode,
    go_time,
    obj,
    string,
    zero_to_none,
)

CAMPAIGN_HEADER = "X-Listmonk-Campaign"
_HARD = ("HardBounce", "BadEmailAddress", "ManuallyDeactivated")
_SOFT = ("SoftBounce", "Transient", "DnsError", "SpamNotification", "VirusNotification",
         "DMARCPolicy")


def check_auth(config: BouncePostmark, authorization: str) -> None:
    """echo's BasicAuth middleware with listmonk's validator."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic" and encoded:
        try:
            credentials = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, ValueError):
            raise WebhookRefused("malformed basic auth", status=400,
                                 message="Bad Request") from None
        user, colon, password = credentials.partition(":")
        if colon:
            if not config.username or not config.password:
                raise WebhookRefused("webhook credentials are not configured")
            if (hmac.compare_digest(user.encode(), config.username.encode())
                    and hmac.compare_digest(password.encode(), config.password.encode())):
                return
    raise WebhookRefused("wrong credentials", status=401, message="Unauthorized",
                         headers={"WWW-Authenticate": "basic realm=Restricted"})


def process(config: BouncePostmark, authorization: str, body: bytes) -> list[BounceInput]:
    check_auth(config, authorization)
    record = decode(body, "postmark notification")
    if not isinstance(record, dict):
        raise WebhookRefused("postmark notification is not an object")
    if record.get("RecordType") not in ("Bounce", "SpamComplaint"):
        return []
    kind: Any
    bounce_type = record.get("Type")
    if bounce_type in _HARD:
        kind = "hard"
    elif bounce_type in _SOFT:
        kind = "soft"
    elif bounce_type == "SpamComplaint":
        kind = "complaint"
    else:
        raise WebhookRefused(f"unsupported bounce type: {str(bounce_type)[:50]}")
    return [BounceInput(kind=kind, source="postmark", email=string(record.get("Email")).lower(),
                        campaign_uuid=string(obj(record.get("Metadata")).get(CAMPAIGN_HEADER)),
                        meta=record,
                        created_at=zero_to_none(go_time(record.get("BouncedAt"), "BouncedAt")))]
