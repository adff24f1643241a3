"""Reads of the ``subscribers`` read model, answering in listmonk's JSON shape.

A subscriber is ``{id, created_at, updated_at, uuid, email, name, attribs, status, lists}``;
each of its lists is the list's row (listmonk's ``lists`` columns) preceded by the
subscription's ``subscription_status``, ``subscription_created_at``, ``subscription_updated_at``
and ``subscription_meta``, ordered by list id. The command side reuses ``fetch_subscriber`` to
answer a write with exactly what a GET returns; the listing reuses ``fetch_subscribers`` /
``render_subscriber`` / ``lists_of``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import timestamp

SUBSCRIBERS = sql.Identifier("readmodel", "subscribers")
SUBSCRIBER_LISTS = sql.Identifier("readmodel", "subscriber_lists")
LISTS = sql.Identifier("readmodel", "lists")

SUBSCRIBER_COLUMNS = sql.SQL(
    "id, created_at, updated_at, uuid::text AS uuid, email, name, attribs, status")


def render_subscriber(row: dict[str, Any], lists: list[dict[str, Any]]) -> dict[str, Any]:
    """A subscriber as listmonk's JSON has it (same keys, same order)."""
    return {
        "id": row["id"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
        "uuid": row["uuid"],
        "email": row["email"],
        "name": row["name"],
        "attribs": row["attribs"] if row["attribs"] is not None else {},
        "status": row["status"],
        "lists": lists,
    }


def render_subscription(row: dict[str, Any]) -> dict[str, Any]:
    """One of a subscriber's lists: the subscription's fields, then the list's columns."""
    return {
        "subscription_status": row["subscription_status"],
        "subscription_created_at": timestamp(row["subscription_created_at"]),
        "subscription_updated_at": timestamp(row["subscription_updated_at"]),
        "subscription_meta": row["subscription_meta"] or {},
        "id": row["id"],
        "uuid": row["uuid"],
        "name": row["name"],
        "type": row["type"],
        "optin": row["optin"],
        "status": row["status"],
        "tags": list(row["tags"] or []),
        "description": row["description"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
    }


_LISTS_QUERY = sql.SQL(
    "SELECT sl.subscriber_id, sl.status AS subscription_status,"
    " sl.created_at AS subscription_created_at, sl.updated_at AS subscription_updated_at,"
    " sl.meta AS subscription_meta, l.id, l.uuid::text AS uuid, l.name, l.type, l.optin,"
    " l.status, l.tags, l.description, l.created_at, l.updated_at"
    " FROM {sl} sl JOIN {l} l ON l.id = sl.list_id"
    " WHERE sl.subscriber_id = ANY(%s) ORDER BY sl.subscriber_id, l.id"
).format(sl=SUBSCRIBER_LISTS, l=LISTS)


async def lists_of(
    conn: psycopg.AsyncConnection[Any], subscriber_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """Each subscriber's lists (``[]`` for one without subscriptions)."""
    out: dict[int, list[dict[str, Any]]] = {sid: [] for sid in subscriber_ids}
    if not subscriber_ids:
        return out
    cur = await conn.cursor(row_factory=dict_row).execute(_LISTS_QUERY, (list(subscriber_ids),))
    for row in await cur.fetchall():
        out.setdefault(int(row["subscriber_id"]), []).append(render_subscription(row))
    return out


async def fetch_subscribers(
    pool: AsyncConnectionPool[Any], subscriber_ids: Sequence[int]
) -> list[dict[str, Any]]:
    """The subscribers with these ids that exist, in the order given, with their lists."""
    ids = list(dict.fromkeys(subscriber_ids))
    if not ids:
        return []
    query = sql.SQL("SELECT {} FROM {} WHERE id = ANY(%s)").format(
        SUBSCRIBER_COLUMNS, SUBSCRIBERS)
    async with pool.connection() as conn, conn.transaction():
        # One snapshot for both reads, so a subscriber and its lists agree.
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cur = await conn.cursor(row_factory=dict_row).execute(query, (ids,))
        rows = {int(r["id"]): r for r in await cur.fetchall()}
        lists = await lists_of(conn, [i for i in ids if i in rows])
    return [render_subscriber(rows[i], lists[i]) for i in ids if i in rows]


async def fetch_subscriber(
    pool: AsyncConnectionPool[Any], subscriber_id: int
) -> dict[str, Any] | None:
    """One subscriber in listmonk's JSON shape, or ``None``."""
    found = await fetch_subscribers(pool, [subscriber_id])
    return found[0] if found else None
