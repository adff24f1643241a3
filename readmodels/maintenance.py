"""Reads behind the maintenance routes (listmonk's ``cmd/maintenance.go``): the selections the
deleting commands start from, and the analytics export.

The selections read the read model as it is when the command arrives (the same named choice as
the by-query commands, docs/architecture.md); each command then decides on every subscriber's
stream again, so one that changed meanwhile is skipped (docs/maintenance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

SubscriberKind = Literal["orphan", "blocklisted"]

_SUBSCRIBERS: dict[str, str] = {
    # listmonk's delete-orphan-subscribers: subscribers on no list at all
    "orphan": "SELECT s.id FROM readmodel.subscribers s WHERE NOT EXISTS"
              " (SELECT 1 FROM readmodel.subscriber_lists sl WHERE sl.subscriber_id = s.id)"
              " ORDER BY s.id",
    # listmonk's delete-blocklisted-subscribers
    "blocklisted": "SELECT id FROM readmodel.subscribers WHERE status = 'blocklisted'"
                   " ORDER BY id",
}


async def subscribers_to_delete(pool: AsyncConnectionPool[Any], kind: SubscriberKind
                                ) -> list[int]:
    """The ids of the orphan (on no list) or blocklisted subscribers, in id order."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(_SUBSCRIBERS[kind])
        return [int(row[0]) for row in await cur.fetchall()]


async def unconfirmed_subscriptions(pool: AsyncConnectionPool[Any], before: datetime
                                    ) -> dict[int, tuple[int, ...]]:
    """listmonk's delete-unconfirmed-subscriptions selection: the ``unconfirmed``
    subscriptions to double opt-in lists created before ``before``, as subscriber id -> list
    ids (subscribers in id order)."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(
            "SELECT sl.subscriber_id, array_agg(sl.list_id ORDER BY sl.list_id)"
            " FROM readmodel.subscriber_lists sl"
            " JOIN readmodel.lists l ON l.id = sl.list_id AND l.optin = 'double'"
            " WHERE sl.status = 'unconfirmed' AND sl.created_at < %s"
            " GROUP BY sl.subscriber_id ORDER BY sl.subscriber_id", (before,))
        return {int(sid): tuple(int(i) for i in lists) for sid, lists in await cur.fetchall()}


@dataclass(frozen=True)
class ExportPage:
    """One page of the export: the rows and the last row id (where the next page starts)."""

    rows: Sequence[tuple[Any, ...]]
    last_id: int


# listmonk's export-campaign-views / export-campaign-link-clicks, paged by row id rather than
# OFFSET (rows deleted meanwhile do not shift the pages).
_EXPORT: dict[str, str] = {
    "views": (
        "SELECT v.id, v.campaign_id, COALESCE(c.uuid::text, ''), COALESCE(c.name, ''),"
        " COALESCE(v.subscriber_id, 0), COALESCE(s.uuid::text, ''), COALESCE(s.email, ''),"
        " COALESCE(s.name, ''), v.created_at"
        " FROM readmodel.campaign_views v"
        " LEFT JOIN readmodel.campaigns c ON c.id = v.campaign_id"
        " LEFT JOIN readmodel.subscribers s ON s.id = v.subscriber_id"
        " WHERE v.created_at >= %s AND v.id > %s ORDER BY v.id LIMIT %s"),
    "clicks": (
        "SELECT k.id, k.campaign_id, COALESCE(c.uuid::text, ''), COALESCE(c.name, ''),"
        " COALESCE(k.subscriber_id, 0), COALESCE(s.uuid::text, ''), COALESCE(s.email, ''),"
        " COALESCE(s.name, ''), COALESCE(l.url, ''), k.created_at"
        " FROM readmodel.link_clicks k"
        " LEFT JOIN readmodel.campaigns c ON c.id = k.campaign_id"
        " LEFT JOIN readmodel.links l ON l.id = k.link_id"
        " LEFT JOIN readmodel.subscribers s ON s.id = k.subscriber_id"
        " WHERE k.created_at >= %s AND k.id > %s ORDER BY k.id LIMIT %s"),
}


async def export_page(pool: AsyncConnectionPool[Any], kind: Literal["views", "clicks"],
                      since: datetime, after_id: int, limit: int) -> ExportPage:
    """Up to ``limit`` view or click rows recorded at or after ``since``, after row
    ``after_id``; each row without its id: campaign id, uuid, name, subscriber id, uuid,
    e-mail, name, (url,) created_at."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(_EXPORT[kind], (since, after_id, limit))
        rows = await cur.fetchall()
    return ExportPage(rows=[tuple(r[1:]) for r in rows],
                      last_id=int(rows[-1][0]) if rows else after_id)
