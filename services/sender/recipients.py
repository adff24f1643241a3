"""A campaign's recipients, read from the read models in keyset pages (never all at once).

Selected as listmonk's ``next-campaign-subscribers`` selects them: subscribers of the
campaign's lists that are not blocklisted; on a double opt-in list only confirmed
subscriptions, on a single opt-in list any subscription not unsubscribed; an opt-in campaign
goes to the unconfirmed subscriptions of its double opt-in lists. Only ids in the chunk's
range ``(after_id, last_id]`` (``last_id`` never above the ``max_subscriber_id`` frozen at
start): subscribers who joined after the start are not sent to. A subscriber on several of
the lists is one recipient.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row

# The distinct eligible subscriber ids after %(after)s up to %(upto)s, in id order. Both
# tables are bounded by the id range (a merge join would otherwise walk the subscribers from
# the first id), and ``subscriber_lists (list_id, subscriber_id)`` makes the range an index
# condition of the list's rows whatever the planner's statistics say (right after a large
# import they say a list has a handful of rows, and a page read all of them and sorted).
_ELIGIBLE = """
SELECT DISTINCT sl.subscriber_id
FROM readmodel.subscriber_lists sl
JOIN unnest(%(ids)s::bigint[], %(optins)s::text[]) AS l(id, optin) ON l.id = sl.list_id
JOIN readmodel.subscribers s2 ON s2.id = sl.subscriber_id AND s2.status <> 'blocklisted'
  AND s2.id > %(after)s AND s2.id <= %(upto)s
WHERE sl.list_id = ANY(%(ids)s::bigint[])
  AND sl.subscriber_id > %(after)s AND sl.subscriber_id <= %(upto)s
  AND CASE
    WHEN %(type)s = 'optin' THEN sl.status = 'unconfirmed' AND l.optin = 'double'
    WHEN l.optin = 'double' THEN sl.status = 'confirmed'
    ELSE sl.status <> 'unsubscribed' END
ORDER BY sl.subscriber_id
LIMIT %(limit)s
"""

_IDS = _ELIGIBLE

_ROWS = f"""
SELECT s.id, s.uuid::text, s.email, s.name, s.attribs, s.status, s.created_at, s.updated_at
FROM readmodel.subscribers s
WHERE s.id IN ({_ELIGIBLE})
ORDER BY s.id
"""


@dataclass(frozen=True)
class Audience:
    """Whom a campaign reaches: its live lists with their opt-in kind, and its type."""

    list_optins: Mapping[int, str]
    campaign_type: str = "regular"

    def params(self, after_id: int, upto: int, limit: int) -> dict[str, Any]:
        ids = list(self.list_optins)
        return {"ids": ids, "optins": [self.list_optins[i] for i in ids],
                "type": self.campaign_type, "after": after_id, "upto": upto, "limit": limit}


@dataclass(frozen=True)
class RecipientRow:
    """A subscriber to send to, as the read model has them."""

    id: int
    uuid: str
    email: str
    name: str
    attribs: dict[str, Any] = field(default_factory=dict)
    status: str = "enabled"
    created_at: datetime | None = None
    updated_at: datetime | None = None


async def first_ids(conn: psycopg.AsyncConnection[Any], audience: Audience, after_id: int,
                    upto: int, limit: int) -> list[int]:
    """The ids of the first ``limit`` recipients after ``after_id`` (up to ``upto``).

    Read in id windows that start at twice ``limit`` ids and double while they come back
    short: each query reads at most its window's rows of the lists whatever plan the
    planner picks (over the whole remaining range, a plan that sorts read every remaining
    subscription of the list for each chunk: seconds per chunk at a million)."""
    if not audience.list_optins:
        return []
    found: list[int] = []
    cursor, window = after_id, max(2 * limit, 1024)
    while len(found) < limit and cursor < upto:
        top = min(upto, cursor + window)
        wanted = limit - len(found)
        cur = await conn.cursor(row_factory=tuple_row).execute(
            _IDS, audience.params(cursor, top, wanted))
        rows = [int(row[0]) for row in await cur.fetchall()]
        found.extend(rows)
        if len(rows) >= wanted:
            break
        cursor, window = top, window * 2  # every recipient in (cursor, top] was read
    return found


ConnectionFactory = Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]]


async def recipient_pages(conn_factory: ConnectionFactory, audience: Audience, after_id: int,
                          last_id: int, page: int) -> AsyncIterator[list[RecipientRow]]:
    """Pages of recipients in ``(after_id, last_id]``, in id order; each page is read on a
    connection of its own (``conn_factory()`` is a pool's ``connection``), so a long send
    holds no connection between pages."""
    cursor_id = after_id
    while audience.list_optins:
        async with conn_factory() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(
                _ROWS, audience.params(cursor_id, last_id, page))
            rows = await cur.fetchall()
        if not rows:
            return
        found = [RecipientRow(id=int(r[0]), uuid=str(r[1]), email=str(r[2]), name=str(r[3]),
                              attribs=dict(r[4] or {}), status=str(r[5]), created_at=r[6],
                              updated_at=r[7]) for r in rows]
        yield found
        if len(rows) < page:
            return
        cursor_id = found[-1].id
