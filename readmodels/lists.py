"""Reads of the ``lists`` read model, answering in listmonk's JSON shape.

The command side reuses ``fetch_list`` to answer a write with exactly what a GET returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.paging import all_of, fetch_page, text_search

LISTS = sql.Identifier("readmodel", "lists")
ORDER_FIELDS = ("name", "status", "created_at", "updated_at", "subscriber_count")
DEFAULT_ORDER_FIELD = "created_at"

_COLUMNS = sql.SQL(
    "id, created_at, updated_at, uuid::text AS uuid, name, type, optin, status, tags,"
    " description, subscriber_count, subscriber_statuses"
)


def timestamp(value: datetime) -> str:
    """RFC 3339 with microseconds and offset, e.g. ``2019-01-01T09:00:00.000000+05:30``."""
    return value.isoformat(timespec="microseconds")


def render_list(row: dict[str, Any]) -> dict[str, Any]:
    """A list as listmonk's JSON has it (same keys, same order)."""
    return {
        "id": row["id"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
        "uuid": row["uuid"],
        "name": row["name"],
        "type": row["type"],
        "optin": row["optin"],
        "status": row["status"],
        "tags": list(row["tags"] or []),
        "description": row["description"],
        "subscriber_count": row["subscriber_count"],
        "subscriber_statuses": dict(row["subscriber_statuses"] or {}),
        # listmonk always sends these (they are filled only in a subscriber's lists).
        "subscription_created_at": None,
        "subscription_updated_at": None,
    }


@dataclass(frozen=True)
class ListQuery:
    """Filters, order and page of ``GET /api/lists`` (already validated)."""

    search: str = ""
    list_type: str = ""
    optin: str = ""
    status: str = ""
    tags: tuple[str, ...] = ()
    order_by: str = DEFAULT_ORDER_FIELD
    descending: bool = True
    offset: int = 0
    limit: int | None = 20
    # The lists the caller's list role permits (None: every list).
    permitted: tuple[int, ...] | None = None


def search_condition(search: str) -> tuple[sql.Composable, list[Any]]:
    """listmonk's name search: every word matches (full text) or the name contains the text."""
    return text_search(sql.SQL("name"), search)


def _filters(q: ListQuery) -> tuple[sql.Composable, list[Any]]:
    where: list[sql.Composable] = []
    params: list[Any] = []
    if q.search:
        cond, args = search_condition(q.search)
        where.append(cond)
        params.extend(args)
    for column, value in (("type", q.list_type), ("optin", q.optin), ("status", q.status)):
        if value:
            where.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
            params.append(value)
    if q.tags:
        where.append(sql.SQL("tags @> %s::text[]"))
        params.append(list(q.tags))
    if q.permitted is not None:
        where.append(sql.SQL("id = ANY(%s)"))
        params.append(list(q.permitted))
    return all_of(where), params


async def query_lists(
    pool: AsyncConnectionPool[Any], q: ListQuery
) -> tuple[list[dict[str, Any]], int]:
    """One page of lists and the number of lists matching the filters."""
    if q.order_by not in ORDER_FIELDS:
        raise ValueError(f"cannot order by {q.order_by}")
    where, params = _filters(q)
    rows, total = await fetch_page(
        pool, columns=_COLUMNS, table=LISTS, alias="lists", where=where, params=params,
        order_by=q.order_by, descending=q.descending, offset=q.offset, limit=q.limit)
    return [render_list(r) for r in rows], total


async def all_lists(pool: AsyncConnectionPool[Any], status: str = "",
                    permitted: list[int] | None = None) -> list[dict[str, Any]]:
    """Every list (optionally of one status, and only the ``permitted`` ids when given) by
    id: the ``minimal`` listing."""
    query = sql.SQL("SELECT {} FROM {} WHERE (%s = '' OR status = %s)"
                    " AND (%s::bigint[] IS NULL OR id = ANY(%s::bigint[])) ORDER BY id").format(
        _COLUMNS, LISTS)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            query, (status, status, permitted, permitted))
        return [render_list(r) for r in await cur.fetchall()]


async def fetch_list(pool: AsyncConnectionPool[Any], list_id: int) -> dict[str, Any] | None:
    """One list in listmonk's JSON shape, or ``None``."""
    query = sql.SQL("SELECT {} FROM {} WHERE id = %s").format(_COLUMNS, LISTS)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, (list_id,))
        row = await cur.fetchone()
    return render_list(row) if row else None


async def public_lists(pool: AsyncConnectionPool[Any]) -> list[dict[str, str]]:
    """Active public lists as ``{uuid, name}``, by id (the public subscription form's lists)."""
    query = sql.SQL(
        "SELECT uuid::text, name FROM {} WHERE type = 'public' AND status = 'active' ORDER BY id"
    ).format(LISTS)
    async with pool.connection() as conn:
        cur = await conn.cursor().execute(query)
        return [{"uuid": u, "name": n} for u, n in await cur.fetchall()]


async def ids_matching(pool: AsyncConnectionPool[Any], search: str) -> list[int]:
    """Ids of the lists whose name matches ``search`` as listmonk's bulk delete matches it
    (full text only); an empty search matches every list."""
    async with pool.connection() as conn:
        if search:
            query = sql.SQL(
                "SELECT id FROM {} WHERE to_tsvector(name) @@ plainto_tsquery(%s) ORDER BY id"
            ).format(LISTS)
            cur = await conn.cursor().execute(query, (search,))
        else:
            cur = await conn.cursor().execute(
                sql.SQL("SELECT id FROM {} ORDER BY id").format(LISTS))
        return [int(r[0]) for r in await cur.fetchall()]
