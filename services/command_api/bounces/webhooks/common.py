"""What the provider webhooks share: their refusal, JSON and time parsing as Go's would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

INVALID_DATA = "Invalid data"


class WebhookRefused(Exception):
    """A webhook request refused: ``status`` and listmonk's message (nothing is recorded)."""

    def __init__(self, reason: str, status: int = 400, message: str = INVALID_DATA,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # logged, never answered
        self.status = status
        self.message = message
        self.headers = headers or {}


def decode(body: bytes | str, what: str) -> Any:
    """Any JSON value of ``body``, else refused (400)."""
    try:
        return msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        raise WebhookRefused(f"error unmarshalling {what}: {exc}") from None


def go_time(value: Any, what: str) -> datetime | None:
    """An RFC 3339 time as Go's ``time.Time`` decodes it (absent or null: None); anything
    else is refused."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise WebhookRefused(f"{what}: not a time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise WebhookRefused(f"{what}: not an RFC 3339 time") from None
    if parsed.tzinfo is None:
        raise WebhookRefused(f"{what}: no time zone")
    return parsed


def zero_to_none(at: datetime | None) -> datetime | None:
    """Go's zero time (year 1) means "not given": the bounce is then stamped now."""
    return None if at is None or at.year <= 1 else at.astimezone(UTC)


def string(value: Any) -> str:
    """A JSON string field as Go decodes it into a string (absent or null: "")."""
    return value if isinstance(value, str) else ""


def obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
