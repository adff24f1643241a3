"""The contract between the sender and its messengers: what a message to deliver carries, what
a delivery attempt answers, and the ``Messenger`` every transport implements.

A messenger is named as listmonk names them: ``email`` (any enabled SMTP server, chosen as
listmonk chooses), ``email-<name>`` (one named SMTP server) and each enabled postback
messenger's name. The sender renders a message once (``services/sender/rendering.py``), hands
an ``OutgoingMessage`` to the messenger the campaign or request names, and records the
``DeliveryResult``: delivered, failed for good (an SMTP 5xx, a postback 4xx) or failed for now
(an SMTP 4xx, a timeout, a dropped connection: retried later with back-off).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from events.message_storage import AttachmentFile
from events.messages import MessageContent


@dataclass(frozen=True)
class Recipient:
    """Who a message is for, as a postback's ``recipients[]`` shows it (listmonk's shape)."""

    uuid: str
    email: str
    name: str = ""
    attribs: dict[str, Any] = field(default_factory=dict)
    status: str = "enabled"


@dataclass(frozen=True)
class CampaignInfo:
    """The campaign a message belongs to, as a postback's ``campaign`` shows it."""

    uuid: str
    name: str
    from_email: str
    headers: Sequence[dict[str, str]] = ()
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class OutgoingMessage:
    """One rendered message for one recipient, ready for any messenger.

    ``content`` holds the rendered subject, body, alt body, recipients' addresses and headers
    (listmonk's first, then the campaign's or request's own); ``content_type`` is the
    campaign's (``plain`` means a text-only message); ``message_id`` keeps a retried delivery's
    ``Message-Id`` stable.
    """

    message_id: str
    from_email: str
    content: MessageContent
    content_type: str
    recipient: Recipient
    campaign: CampaignInfo | None = None
    attachments: Sequence[AttachmentFile] = ()


@dataclass(frozen=True)
class DeliveryResult:
    """What one attempt gave. ``code`` is the SMTP reply code (or the HTTP status for a
    postback, 0 when there was no answer); ``detail`` its text. ``temporary`` failures are
    retried later; permanent ones are recorded against the recipient."""

    delivered: bool
    code: int = 0
    detail: str = ""
    temporary: bool = False

    @classmethod
    def ok(cls, code: int = 250, detail: str = "") -> DeliveryResult:
        return cls(True, code, detail)

    @classmethod
    def retry_later(cls, code: int, detail: str) -> DeliveryResult:
        return cls(False, code, detail, temporary=True)

    @classmethod
    def refused(cls, code: int, detail: str) -> DeliveryResult:
        return cls(False, code, detail, temporary=False)


class Messenger(Protocol):
    """A transport. ``send`` never raises for a delivery problem: it answers a
    ``DeliveryResult`` (an exception means a bug, or the messenger was closed)."""

    name: str

    async def send(self, message: OutgoingMessage) -> DeliveryResult:
        """Deliver one message (with the messenger's own connection reuse and retries)."""
        ...

    async def close(self) -> None:
        """Finish or drop in-flight work and release connections."""
        ...
