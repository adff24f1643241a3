"""Events of the ``message`` category: single messages queued for the sender.

Stream ``message-<uuid>``, one stream per message, so the sender can later record that
message's delivery (or failure) on the same stream with optimistic concurrency. Two kinds
are queued today:

- ``message.tx_queued``: a transactional message (``POST /api/tx``), one per recipient;
- ``message.campaign_test_queued``: a campaign rendered for one test recipient
  (``POST /api/campaigns/:id/test``).

Both carry the message already rendered (subject, bodies, headers) so delivery needs no
template. What is personal (recipient address, subject, bodies, headers: anything rendered
from a subscriber or from the request's data) is sealed into one ``content`` token:

- for a known subscriber with the subscriber's data key (``events.crypto``) and the aad
  ``subscriber:<id>:content``: erasing the subscriber erases the message;
- for a recipient who is not a subscriber (``external`` / ``fallback`` modes) with a data key
  of its own in ``eventlog.message_keys`` (see ``events/message_storage.py``), kept beside a
  SHA-256 of the address so an erasure request for that address can destroy it.

Attachments are never inside an event: their bytes live in ``eventlog.attachments`` and the
event holds their id, size and SHA-256.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from events.base import Event
from events.crypto import decrypt_value, encrypt_value, field_aad
from events.validation import check_json

SealedWith = Literal["subscriber", "message"]


def stream_id(message_id: str) -> str:
    return f"message-{message_id}"


class AttachmentRef(msgspec.Struct, frozen=True, kw_only=True):
    """A file stored in ``eventlog.attachments``, checked by its SHA-256 when read back."""

    attachment_id: str
    sha256: str
    size: int


class MessageContent(msgspec.Struct, frozen=True, kw_only=True):
    """What a message says and to whom: the sealed part of a queued message.

    ``headers`` are ``[name, value]`` pairs in order (listmonk's headers first for a campaign
    message, then the campaign's or request's own); ``altbody`` is the plain-text alternative
    when one was given (``None``: none given).
    """

    to: list[str]
    name: str = ""
    subject: str
    body: str
    altbody: str | None = None
    headers: list[tuple[str, str]] = []


class TxMessageQueued(Event, tag="message.tx_queued", kw_only=True, frozen=True):
    """A transactional message was rendered and waits for delivery.

    ``subscriber_id`` is ``None`` for a recipient who is not a subscriber (``external`` mode,
    or ``fallback`` when the address was unknown); ``sealed_with`` says whose key seals
    ``content``.
    """

    CATEGORY = "message"
    message_id: str
    subscriber_id: int | None
    template_id: int
    sealed_with: SealedWith
    content: str
    from_email: str
    content_type: str
    messenger: str
    attachments: list[AttachmentRef] = []
    at: datetime


class CampaignTestQueued(Event, tag="message.campaign_test_queued", kw_only=True, frozen=True):
    """A campaign was rendered for one of the subscribers a test was asked for.

    The content is the campaign as posted with the test request (which may differ from what
    is stored) and is sealed with the subscriber's key.
    """

    CATEGORY = "message"
    message_id: str
    campaign_id: int
    campaign_uuid: str
    subscriber_id: int
    template_id: int | None
    content: str
    from_email: str
    content_type: str
    messenger: str
    at: datetime


MessageEvent = TxMessageQueued | CampaignTestQueued


def content_aad(message_id: str, subscriber_id: int | None) -> bytes:
    """The aad of a sealed ``content``: the subscriber's ``content`` field (as for its other
    personal fields, so ``postlog export`` opens it), or the message for a non-subscriber."""
    if subscriber_id is None:
        return f"message:{message_id}:content".encode()
    return field_aad(subscriber_id, "content")


def seal_content(key: bytes, content: MessageContent, message_id: str,
                 subscriber_id: int | None) -> str:
    """``content`` as a token sealed with ``key``; refused (``InvalidText``) if it holds a
    text no event may hold, for sealing hides it from the store's own check."""
    value = check_json(msgspec.to_builtins(content), "message")
    return encrypt_value(key, value, content_aad(message_id, subscriber_id))


def open_content(key: bytes | None, token: str, message_id: str,
                 subscriber_id: int | None) -> MessageContent | None:
    """The sealed content, or ``None`` once its key was destroyed (the message was erased)."""
    value: Any = decrypt_value(key, token, content_aad(message_id, subscriber_id))
    if not value:
        return None
    return msgspec.convert(value, MessageContent)
