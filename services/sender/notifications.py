"""Admin notifications: an e-mail to each of ``app.notify_emails`` when a campaign finishes
or is paused (by hand, or by the sender: ``app.max_send_errors``, a messenger missing), as
listmonk's ``sendNotif`` does.

``campaign.finished`` and ``campaign.paused`` become request rows of the
``message_deliveries`` read model. The process that claims one calls ``queue_notifications``:
one ``message.notification_queued`` per notification address (deduplicated, any case), each
a message of its own (id derived from the request and the address) sealed with a key of its
own stored beside the address's SHA-256 (``eventlog.message_keys``), so erasing an address
(``erase_address``) erases what was sent to it; then they are sent like any queued message,
ahead of campaign mail. No address: the request is skipped.

The message (postlog's text, in listmonk's spirit): subject ``Campaign finished: <name>`` /
``Campaign paused: <name>``; body (``notices/campaign-status.html``) the campaign's name
linking to ``<root>/admin/campaigns/<id>``, its status, messages sent of those to send, and
the pause's reason when there is one. From is ``app.from_email``; the messenger ``email``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from events.message_deliveries import (
    CAMPAIGN_GONE,
    NO_NOTIFY_EMAILS,
    MessageSkipped,
    NotificationQueued,
    notification_message_id,
)
from events.message_storage import create_message_key
from events.messages import MessageContent, seal_content, stream_id
from events.settings import AppSettings
from events.store import NO_STREAM, StreamAppend
from services.sender.message_leases import ClaimedMessage
from services.sender.notice_templates import CAMPAIGN_STATUS, render_notice

# The read model the message is rendered from: it must have seen the request first.
PROJECTIONS = ("campaigns",)
SUBJECTS = {"finished": "Campaign finished: {}", "paused": "Campaign paused: {}"}


@dataclass(frozen=True)
class StatusDot:
    """What ``notices/campaign-status.html`` sees (listmonk's notification data)."""

    ID: int
    Name: str
    Status: str
    Sent: int
    ToSend: int
    Reason: str
    URL: str


def notify_addresses(settings: AppSettings) -> list[str]:
    """``app.notify_emails`` trimmed, without empties and repeats (any case)."""
    seen: dict[str, str] = {}
    for address in settings.app_notify_emails:
        clean = address.strip()
        if clean and clean.lower() not in seen:
            seen[clean.lower()] = clean
    return list(seen.values())


def render_status(settings: AppSettings, dot: StatusDot, to: str) -> MessageContent:
    """The notification of ``dot`` for one address (pure)."""
    subject = (SUBJECTS.get(dot.Status) or f"Campaign {dot.Status}: {{}}").format(dot.Name)
    return MessageContent(to=[to], subject=subject, body=render_notice(CAMPAIGN_STATUS, dot))


async def queue_notifications(conn: psycopg.AsyncConnection[Any], request: ClaimedMessage,
                              settings: AppSettings, *, master_key: bytes | None,
                              at: datetime) -> list[StreamAppend]:
    """The notification request ``request`` as one queued message per address (or skipped),
    with the messages' keys created in the caller's (recording) transaction."""
    addresses = notify_addresses(settings)
    if not addresses:
        return [_skip(request, NO_NOTIFY_EMAILS, at)]
    cur = await conn.cursor(row_factory=dict_row).execute(
        "SELECT id, name, sent, to_send FROM readmodel.campaigns WHERE id = %s",
        (request.campaign_id,))
    row = await cur.fetchone()
    if row is None:
        return [_skip(request, CAMPAIGN_GONE, at)]
    status = str(request.request.get("status") or "finished")
    dot = StatusDot(ID=int(row["id"]), Name=row["name"], Status=status, Sent=int(row["sent"]),
                    ToSend=int(row["to_send"]), Reason=str(request.request.get("reason") or ""),
                    URL=f"{settings.app_root_url.rstrip('/')}/admin/campaigns/{row['id']}")
    appends: list[StreamAppend] = []
    for address in addresses:
        message_id = notification_message_id(request.message_id, address)
        key = await create_message_key(conn, message_id, address, master_key=master_key)
        content = render_status(settings, dot, address)
        appends.append(StreamAppend(stream_id(message_id), NO_STREAM, [NotificationQueued(
            message_id=message_id, request_id=request.message_id, campaign_id=dot.ID,
            status=status, content=seal_content(key, content, message_id, None),
            from_email=settings.app_from_email, at=at)]))
    return appends


def _skip(request: ClaimedMessage, reason: str, at: datetime) -> StreamAppend:
    return StreamAppend(stream_id(request.message_id), NO_STREAM, [
        MessageSkipped(message_id=request.message_id, reason=reason, at=at)])
