"""Events of single-message delivery: system messages queued by the sender, and what became
of every single message (transactional, campaign test, opt-in, admin notification).

A message's stream is ``message-<uuid>`` (``events.messages.stream_id``). It starts with the
event that queued it, then the sender records each attempt on the same stream, appended at the
version the sender read when it claimed the message: a second process that took the message
over (the first one's lease ran out) makes the first one's late record conflict, so the log
holds one outcome per attempt.

- ``message.optin_queued``: the opt-in confirmation of a ``subscriber.optin_requested``,
  rendered and sealed with the subscriber's key (stream ``message-<request id>``);
- ``message.notification_queued``: an admin notification about a campaign (finished,
  paused) for one address of ``app.notify_emails``, sealed with a key of the message's own
  (``eventlog.message_keys``, beside the address's SHA-256, so ``erase_address`` erases it);
- ``message.delivered``: the messenger accepted it;
- ``message.failed``: refused for good (``retry_at`` None: an SMTP 5xx, a postback 4xx, the
  last temporary failure), or for now (``retry_at``: tried again then, by any process);
- ``message.skipped``: nothing is sent and nothing will be (the request's setting is off, the
  recipient was erased, nothing is left to confirm, it waited too long). ``reason`` is one of
  the fixed texts below, never data.

A failure text may quote the recipient's address: ``error`` is sealed with the key that seals
the message's content (the subscriber's, aad ``subscriber:<id>:error`` so ``postlog events
export`` opens it like the subscriber's other fields; or the message's, aad
``message:<id>:error``).

Requests (``subscriber.optin_requested``, ``campaign.finished``, ``campaign.paused``) become
messages with ids derived from the request event's id (``request_message_id``), so every
process derives the same id and only the first append of the queued event succeeds.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from events.base import Event
from events.crypto import decrypt_value, encrypt_value, field_aad
from events.deliveries import clean_error

CATEGORY = "message"
ERROR_FIELD = "error"
_IDS = uuid.UUID("6f1d0c52-8d8e-4c36-9a5e-2b8c4f7e9a31")

# Why a message was skipped (``message.skipped``): fixed texts, no personal data.
OPTIN_OFF = "app.send_optin_confirmation is off"
NOTHING_TO_CONFIRM = "no unconfirmed double opt-in subscription left to confirm"
NO_NOTIFY_EMAILS = "app.notify_emails is empty"
RECIPIENT_ERASED = "the recipient was erased"
CAMPAIGN_GONE = "the campaign was deleted"
EXPIRED = "not sent: queued more than {} hours ago"


def request_message_id(request_event_id: str | uuid.UUID, kind: str) -> str:
    """The message id of a request (``optin`` or ``notification``) recorded as event
    ``request_event_id``: the same in every process and every rebuild."""
    return str(uuid.uuid5(_IDS, f"{kind}/{request_event_id}"))


def notification_message_id(request_id: str, address: str) -> str:
    """The message id of one admin address's notification for the request ``request_id``."""
    return str(uuid.uuid5(_IDS, f"{request_id}/{address.strip().lower()}"))


def error_aad(message_id: str, subscriber_id: int | None) -> bytes:
    """The aad of a sealed failure text (the subscriber's ``error`` field, else the message)."""
    if subscriber_id is None:
        return f"message:{message_id}:{ERROR_FIELD}".encode()
    return field_aad(subscriber_id, ERROR_FIELD)


def seal_error(key: bytes | None, message_id: str, subscriber_id: int | None,
               text: str) -> str:
    """``text`` cleaned (one line, no control characters, bounded) and sealed; empty when
    there is no text or no key (an erased recipient's failure keeps its code only)."""
    cleaned = clean_error(text)
    if not cleaned or key is None:
        return ""
    return encrypt_value(key, cleaned, error_aad(message_id, subscriber_id))


def open_error(key: bytes | None, message_id: str, subscriber_id: int | None,
               token: str) -> str:
    """The failure text; ``"[erased]"`` once the key is gone."""
    if not token:
        return ""
    value = decrypt_value(key, token, error_aad(message_id, subscriber_id))
    return value if isinstance(value, str) else ""


class OptinQueued(Event, tag="message.optin_queued", kw_only=True, frozen=True):
    """The opt-in confirmation for the unconfirmed double opt-in ``list_ids`` was rendered
    (listmonk's subject and body, postlog's text) and waits for delivery; ``content``
    (``events.messages.MessageContent``) is sealed with the subscriber's key."""

    CATEGORY = CATEGORY
    message_id: str
    subscriber_id: int
    list_ids: list[int]
    content: str
    from_email: str
    messenger: str = "email"
    at: datetime


class NotificationQueued(Event, tag="message.notification_queued", kw_only=True, frozen=True):
    """An admin notification about campaign ``campaign_id`` reaching ``status`` (for one
    address of ``app.notify_emails``; ``request_id`` is the request's message id).
    ``content`` is sealed with the message's own key."""

    CATEGORY = CATEGORY
    message_id: str
    request_id: str
    campaign_id: int
    status: str
    content: str
    from_email: str
    messenger: str = "email"
    at: datetime


class MessageDelivered(Event, tag="message.delivered", kw_only=True, frozen=True):
    """Attempt ``attempt`` (1 is the first) was accepted by ``messenger`` with ``code``."""

    CATEGORY = CATEGORY
    message_id: str
    subscriber_id: int | None = None
    messenger: str
    attempt: int = 1
    code: int = 0
    at: datetime


class MessageFailed(Event, tag="message.failed", kw_only=True, frozen=True):
    """Attempt ``attempt`` failed with ``code`` (SMTP reply code, HTTP status, 0 when there
    was no answer) and ``error`` (sealed). ``retry_at`` set: failed for now, tried again from
    then; ``None``: failed for good."""

    CATEGORY = CATEGORY
    message_id: str
    subscriber_id: int | None = None
    messenger: str
    attempt: int = 1
    code: int = 0
    error: str = ""
    retry_at: datetime | None = None
    at: datetime


class MessageSkipped(Event, tag="message.skipped", kw_only=True, frozen=True):
    """Nothing was sent for this message or request, and nothing will be: ``reason``."""

    CATEGORY = CATEGORY
    message_id: str
    reason: str
    at: datetime


MessageDeliveryEvent = (
    OptinQueued | NotificationQueued | MessageDelivered | MessageFailed | MessageSkipped
)
