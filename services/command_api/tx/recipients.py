"""Who a transactional message goes to, per listmonk's subscriber modes.

- ``default``: every id or e-mail must be a subscriber; the unknown ones are skipped and named
  in the 400 that follows (listmonk's ``Subscriber (<id>: <email>) not found``, joined by
  ``; ``) while the known ones are still sent to, as listmonk does.
- ``fallback``: e-mails are looked up; an unknown one gets an ephemeral subscriber holding only
  the address.
- ``external``: no lookup, every address gets an ephemeral subscriber.

Subscribers are read from the ``subscribers`` read model (profile and lists, decrypted there)
by ``find_subscribers``, before the command that queues the messages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from gotemplate import go_json_value
from readmodels.subscribers import lists_of
from readmodels.tables import tables_exist
from services.command_api.tx.binding import TxRequest
from services.command_api.tx.render import external_subscriber
from services.sender.templating.data import Subscriber

NOT_FOUND = "Subscriber ({}: {}) not found"

_BY_IDS_OR_EMAILS = """
SELECT id, uuid::text AS uuid, email, name, attribs, status, created_at, updated_at
FROM readmodel.subscribers
WHERE id = ANY(%(ids)s::bigint[]) OR lower(email) = ANY(%(emails)s::text[])
"""


@dataclass(frozen=True)
class Recipient:
    """One message to render: the template's ``.Subscriber`` and, for a real subscriber, its
    id (``None`` for an ephemeral one)."""

    subscriber: Subscriber
    subscriber_id: int | None

    @property
    def email(self) -> str:
        return self.subscriber.Email


def _subscriber(row: dict[str, Any], lists: list[dict[str, Any]]) -> Subscriber:
    created: datetime = row["created_at"]
    updated: datetime = row["updated_at"]
    return Subscriber(ID=int(row["id"]), UUID=row["uuid"], Email=row["email"], Name=row["name"],
                      Attribs=go_json_value(row["attribs"] or {}), Status=row["status"],
                      Lists=lists, CreatedAt=created, UpdatedAt=updated)


async def find_subscribers(pool: AsyncConnectionPool[Any], ids: Sequence[int],
                           emails: Sequence[str]) -> tuple[dict[int, Subscriber],
                                                           dict[str, Subscriber]]:
    """The subscribers with these ids or (lower-cased) e-mails, by id and by e-mail."""
    by_id: dict[int, Subscriber] = {}
    by_email: dict[str, Subscriber] = {}
    if not ids and not emails:
        return by_id, by_email
    async with pool.connection() as conn, conn.transaction():
        # One snapshot for both reads, so a subscriber and its lists agree.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        if not await tables_exist(conn, "subscribers", "subscriber_lists", "lists"):
            return by_id, by_email
        cur = await conn.cursor(row_factory=dict_row).execute(
            _BY_IDS_OR_EMAILS, {"ids": list(ids), "emails": [e.lower() for e in emails]})
        rows = await cur.fetchall()
        lists = await lists_of(conn, [int(r["id"]) for r in rows])
    for row in rows:
        found = _subscriber(row, lists.get(int(row["id"]), []))
        by_id[found.ID] = found
        by_email[found.Email.lower()] = found
    return by_id, by_email


# Subscribers by ids or e-mails: ``find_subscribers`` bound to the read pool, or a fake.
SubscriberLookup = Callable[[Sequence[int], Sequence[str]],
                            Awaitable[tuple[dict[int, Subscriber], dict[str, Subscriber]]]]


async def resolve(req: TxRequest, find: SubscriberLookup) -> tuple[list[Recipient], list[str]]:
    """The recipients in request order, and the not-found messages (``default`` mode);
    ``external`` mode looks nobody up."""
    if req.mode == "external":
        return [Recipient(external_subscriber(e), None) for e in req.subscriber_emails], []
    by_id, by_email = await find(req.subscriber_ids, req.subscriber_emails)
    recipients: list[Recipient] = []
    missing: list[str] = []
    if req.subscriber_ids:
        for sid in req.subscriber_ids:
            if sid in by_id:
                recipients.append(Recipient(by_id[sid], sid))
            else:
                missing.append(NOT_FOUND.format(sid, ""))
        return recipients, missing
    for email in req.subscriber_emails:
        found = by_email.get(email.lower()) if email else None
        if found is not None:
            recipients.append(Recipient(found, found.ID))
        elif req.mode == "fallback":
            recipients.append(Recipient(external_subscriber(email), None))
        else:
            missing.append(NOT_FOUND.format(0, email))
    return recipients, missing
