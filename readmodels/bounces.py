"""Reads of the ``bounces`` read model (listmonk's ``query-bounces``), for ``GET /api/bounces``
and ``GET /api/bounces/:id``, and the selections the bounce commands start from (which
subscribers own these bounce ids, which subscribers have bounces).

Rows are shaped by ``subscriber_profile.render_bounce`` (listmonk's ``models.Bounce``), the
subscriber's e-mail, uuid and status joined from ``subscribers``, the campaign's name from
``campaigns``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from readmodels.subscriber_profile import render_bounce

# listmonk's bounceQuerySortFields, with the column each sorts by (listmonk's own query names
# no ``campaign_name`` column, so that order fails there; here it is the campaign's name).
ORDER_FIELDS: dict[str, str] = {
    "email": "s.email", "campaign_name": "c.name", "source": "b.source",
    "created_at": "b.created_at", "type": "b.type",
}
DEFAULT_ORDER = "created_at"

_SELECT = (
    "SELECT b.id, b.type, b.source, b.meta, b.created_at, s.email, s.uuid::text AS"
    " subscriber_uuid, b.subscriber_id, s.status AS subscriber_status, b.campaign_id,"
    " c.name AS campaign_name, count(*) OVER () AS total"
    " FROM readmodel.bounces b LEFT JOIN readmodel.subscribers s ON s.id = b.subscriber_id"
    " LEFT JOIN readmodel.campaigns c ON c.id = b.campaign_id")


@dataclass(frozen=True)
class BounceQuery:
    """``GET /api/bounces``'s filters, order and page (``limit`` None: every row)."""

    campaign_id: int = 0
    source: str = ""
    order_by: str = DEFAULT_ORDER
    descending: bool = True
    offset: int = 0
    limit: int | None = None


async def query_bounces(pool: AsyncConnectionPool[Any], q: BounceQuery
                        ) -> tuple[list[dict[str, Any]], int]:
    """One page of bounces and the number matching the filters."""
    conditions: list[sql.Composable] = []
    params: list[Any] = []
    if q.campaign_id:
        conditions.append(sql.SQL("b.campaign_id = %s"))
        params.append(q.campaign_id)
    if q.source:
        conditions.append(sql.SQL("b.source = %s"))
        params.append(q.source)
    where = sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")
    direction = sql.SQL("DESC" if q.descending else "ASC")
    column = sql.SQL(ORDER_FIELDS.get(q.order_by, ORDER_FIELDS[DEFAULT_ORDER]))
    query = sql.SQL("{select} WHERE {where} ORDER BY {column} {dir}, b.id {dir}"
                    " OFFSET %s LIMIT %s").format(
        select=sql.SQL(_SELECT), where=where, column=column, dir=direction)
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query, [*params, q.offset, q.limit])
        rows = await cur.fetchall()
    total = int(rows[0]["total"]) if rows else 0
    return [render_bounce(r) for r in rows], total


async def fetch_bounce(pool: AsyncConnectionPool[Any], bounce_id: int) -> dict[str, Any] | None:
    """One bounce, or None."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(sql.SQL(_SELECT + " WHERE b.id = %s"), (bounce_id,))
        row = await cur.fetchone()
    return None if row is None else render_bounce(row)


async def bounce_owners(pool: AsyncConnectionPool[Any], bounce_ids: Sequence[int]
                        ) -> dict[int, int]:
    """The subscriber of each of ``bounce_ids`` that exists (bounce id -> subscriber id)."""
    if not bounce_ids:
        return {}
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute("SELECT id, subscriber_id FROM readmodel.bounces WHERE id = ANY(%s)",
                          (list(bounce_ids),))
        return {int(b): int(s) for b, s in await cur.fetchall()}


async def bounced_subscribers(pool: AsyncConnectionPool[Any]) -> list[int]:
    """Every subscriber with at least one bounce, by id."""
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        await cur.execute(
            "SELECT DISTINCT subscriber_id FROM readmodel.bounces ORDER BY subscriber_id")
        return [int(row[0]) for row in await cur.fetchall()]
