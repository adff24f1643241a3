"""The opt-in confirmation e-mail, as listmonk's ``makeOptinNotifyHook`` sends it.

A ``subscriber.optin_requested`` (a double opt-in subscription from the API or the public
form, ``POST /api/subscribers/:id/optin``) becomes a request row of the
``message_deliveries`` read model. The process that claims it calls ``queue_optin``: when
``app.send_optin_confirmation`` is on, it renders the confirmation for the subscriber's
subscriptions among the request's lists that are still unconfirmed on a double opt-in list
(listmonk's selection), and the result is a ``message.optin_queued`` sealed with the
subscriber's key, sent like any queued message. Otherwise the request is skipped with the
reason (setting off, nothing left to confirm, subscriber erased).

The message, as listmonk's: subject and body (postlog's text, ``notices/optin.html``: the
lists, public ones by name, private ones as "a private list"), the link
``<root>/subscription/optin/<subscriber uuid>?l=<list uuid>&l=...`` (the public opt-in page
confirms exactly those lists), the manage link ``<root>/subscription/<zero uuid>/<subscriber
uuid>?manage=true``, and the headers ``X-Listmonk-Subscriber`` and, with
``privacy.unsubscribe_header``, ``List-Unsubscribe-Post`` / ``List-Unsubscribe``. From is
``app.from_email``; the messenger is ``email``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import psycopg
from psycopg.rows import dict_row

from events.crypto import load_keys
from events.message_deliveries import (
    NOTHING_TO_CONFIRM,
    OPTIN_OFF,
    RECIPIENT_ERASED,
    MessageSkipped,
    OptinQueued,
)
from events.messages import MessageContent, seal_content
from events.settings import AppSettings
from services.sender.message_leases import ClaimedMessage
from services.sender.notice_templates import OPTIN, render_notice
from services.sender.rendering import HEADER_SUBSCRIBER, ONE_CLICK
from services.sender.templating import ListmonkURLs
from services.sender.templating.data import DUMMY_UUID, Subscriber

SUBJECT = "Confirm your subscription"
# The read models the message is rendered from: they must have seen the request first.
PROJECTIONS = ("subscribers", "lists")

_SUBSCRIBER = """
SELECT id, uuid::text, email, name, attribs, status, created_at, updated_at
FROM readmodel.subscribers WHERE id = %s
"""
_LISTS = """
SELECT l.id, l.uuid::text, l.name, l.type FROM readmodel.subscriber_lists s
JOIN readmodel.lists l ON l.id = s.list_id
WHERE s.subscriber_id = %s AND s.status = 'unconfirmed' AND l.optin = 'double'
  AND l.id = ANY(%s::bigint[])
ORDER BY l.id
"""


@dataclass(frozen=True)
class OptinList:
    """A list the confirmation names (listmonk's ``models.List`` fields it reads)."""

    ID: int
    UUID: str
    Name: str
    Type: str


@dataclass(frozen=True)
class OptinDot:
    """What ``notices/optin.html`` sees (listmonk's ``subOptin``)."""

    Subscriber: Subscriber
    Lists: list[OptinList]
    OptinURL: str
    UnsubURL: str


def optin_url(root_url: str, subscriber_uuid: str, list_uuids: Sequence[str]) -> str:
    """``<root>/subscription/optin/<uuid>?l=<list uuid>&l=...`` (listmonk's link)."""
    return ListmonkURLs(root_url).optin(subscriber_uuid,
                                        urlencode([("l", u) for u in list_uuids]))


def render_optin(settings: AppSettings, subscriber: Subscriber,
                 lists: Sequence[OptinList]) -> MessageContent:
    """The confirmation for ``subscriber`` naming ``lists`` (pure)."""
    urls = ListmonkURLs(settings.app_root_url)
    unsubscribe = urls.unsubscribe(DUMMY_UUID, subscriber.UUID)
    body = render_notice(OPTIN, OptinDot(
        Subscriber=subscriber, Lists=list(lists), UnsubURL=unsubscribe,
        OptinURL=optin_url(settings.app_root_url, subscriber.UUID, [x.UUID for x in lists])))
    headers = [(HEADER_SUBSCRIBER, subscriber.UUID)]
    if settings.privacy_unsubscribe_header:
        headers += [("List-Unsubscribe-Post", ONE_CLICK), ("List-Unsubscribe",
                                                           f"<{unsubscribe}>")]
    return MessageContent(to=[subscriber.Email], name=subscriber.Name, subject=SUBJECT,
                          body=body, headers=headers)


async def queue_optin(conn: psycopg.AsyncConnection[Any], request: ClaimedMessage,
                      settings: AppSettings, *, master_key: bytes | None,
                      at: datetime) -> OptinQueued | MessageSkipped:
    """The opt-in request ``request`` as a queued message, or skipped with the reason (run
    in the recording transaction)."""
    explicit = bool(request.request.get("explicit", False))  # POST /api/subscribers/:id/optin
    if not settings.app_send_optin_confirmation and not explicit:
        return MessageSkipped(message_id=request.message_id, reason=OPTIN_OFF, at=at)
    subscriber_id = request.subscriber_id
    assert subscriber_id is not None
    cur = await conn.cursor(row_factory=dict_row).execute(_SUBSCRIBER, (subscriber_id,))
    row = await cur.fetchone()
    keys = await load_keys(conn, [subscriber_id], master_key=master_key)
    if row is None or subscriber_id not in keys:
        return MessageSkipped(message_id=request.message_id, reason=RECIPIENT_ERASED, at=at)
    wanted = [int(i) for i in request.request.get("list_ids", [])]
    cur = await conn.cursor(row_factory=dict_row).execute(_LISTS, (subscriber_id, wanted))
    lists = [OptinList(ID=int(r["id"]), UUID=r["uuid"], Name=r["name"], Type=r["type"])
             for r in await cur.fetchall()]
    if not lists:
        return MessageSkipped(message_id=request.message_id, reason=NOTHING_TO_CONFIRM, at=at)
    subscriber = Subscriber(ID=int(row["id"]), UUID=row["uuid"], Email=row["email"],
                            Name=row["name"], Attribs=dict(row["attribs"] or {}),
                            Status=row["status"], CreatedAt=row["created_at"],
                            UpdatedAt=row["updated_at"])
    content = render_optin(settings, subscriber, lists)
    return OptinQueued(
        message_id=request.message_id, subscriber_id=subscriber_id,
        list_ids=[x.ID for x in lists],
        content=seal_content(keys[subscriber_id], content, request.message_id, subscriber_id),
        from_email=settings.app_from_email, at=at)
