"""A queued single message opened for sending: its sealed content, its files, its recipient.

The content of a queued message (``events.messages.MessageContent``: recipient, subject,
bodies, headers) is sealed with the recipient subscriber's data key, or with the message's own
key (``eventlog.message_keys``) for a recipient who is not a subscriber (tx ``external`` and
``fallback``, admin notifications). ``open_message`` loads that key, opens the content, reads
the attachments with the same key (``events.message_storage.load_attachment``, which checks
each file's SHA-256) and gives the ``OutgoingMessage`` every messenger takes, with the key
kept to seal a failure text. A postback's recipient gets the subscriber's uuid, attributes and
status from the subscribers read model; a campaign test its campaign's name.

Nothing to open (the key was destroyed: the recipient was erased) is ``Unsendable`` with
``erased`` set (recorded as skipped); content that does not open with its key, or a file gone
or altered, is ``Unsendable`` (recorded as a permanent failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

from events.crypto import DecryptionError, load_keys
from events.message_storage import (
    AttachmentErased,
    AttachmentFile,
    AttachmentMissing,
    load_attachment,
    load_message_key,
)
from events.messages import CampaignTestQueued, TxMessageQueued, open_content
from services.sender.message_outcomes import Queued, subscriber_of
from services.sender.messengers.base import CampaignInfo, OutgoingMessage, Recipient


@dataclass(frozen=True)
class Opened:
    """A message ready for its messenger, and the key that sealed it."""

    message: OutgoingMessage
    key: bytes


@dataclass(frozen=True)
class Unsendable:
    """Why a queued message cannot be sent: ``erased`` (skip it) or a file problem."""

    detail: str
    erased: bool = False


async def content_key(conn: psycopg.AsyncConnection[Any], queued: Queued, *,
                      master_key: bytes | None) -> bytes | None:
    """The key sealing the message's content; None once its recipient was erased."""
    subscriber_id = subscriber_of(queued)
    if subscriber_id is None:
        return await load_message_key(conn, queued.message_id, master_key=master_key)
    return (await load_keys(conn, [subscriber_id], master_key=master_key)).get(subscriber_id)


async def open_message(conn: psycopg.AsyncConnection[Any], queued: Queued, *,
                       master_key: bytes | None) -> Opened | Unsendable:
    """The queued message as an ``OutgoingMessage`` (see the module's docstring)."""
    key = await content_key(conn, queued, master_key=master_key)
    try:
        content = open_content(key, queued.content, queued.message_id, subscriber_of(queued))
    except DecryptionError:  # altered, or sealed with another key: never sendable
        return Unsendable("the message's content does not open")
    if key is None or content is None:
        return Unsendable("the recipient was erased", erased=True)
    files: list[AttachmentFile] = []
    if isinstance(queued, TxMessageQueued):
        for ref in queued.attachments:
            try:
                files.append(await load_attachment(conn, ref, message_id=queued.message_id,
                                                   recipient_key=key))
            except AttachmentErased:
                return Unsendable("the recipient was erased", erased=True)
            except AttachmentMissing as exc:
                return Unsendable(str(exc))
    recipient = await _recipient(conn, subscriber_of(queued), content.to[0] if content.to
                                 else "", content.name)
    campaign = None
    if isinstance(queued, CampaignTestQueued):
        campaign = await _campaign(conn, queued)
    content_type = getattr(queued, "content_type", "html")
    return Opened(OutgoingMessage(
        message_id=queued.message_id, from_email=queued.from_email, content=content,
        content_type=content_type, recipient=recipient, campaign=campaign,
        attachments=tuple(files)), key)


async def _recipient(conn: psycopg.AsyncConnection[Any], subscriber_id: int | None,
                     email: str, name: str) -> Recipient:
    if subscriber_id is None:
        return Recipient(uuid="", email=email, name=name)
    cur = await conn.cursor(row_factory=dict_row).execute(
        "SELECT uuid::text, attribs, status FROM readmodel.subscribers WHERE id = %s",
        (subscriber_id,))
    row = await cur.fetchone()
    if row is None:
        return Recipient(uuid="", email=email, name=name)
    return Recipient(uuid=row["uuid"], email=email, name=name,
                     attribs=dict(row["attribs"] or {}), status=row["status"])


async def _campaign(conn: psycopg.AsyncConnection[Any], queued: CampaignTestQueued
                    ) -> CampaignInfo:
    cur = await conn.cursor(row_factory=dict_row).execute(
        "SELECT name, tags FROM readmodel.campaigns WHERE id = %s", (queued.campaign_id,))
    row = await cur.fetchone()
    return CampaignInfo(uuid=queued.campaign_uuid, name=row["name"] if row else "",
                        from_email=queued.from_email,
                        tags=tuple(row["tags"] or ()) if row else ())
