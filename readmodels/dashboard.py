"""The dashboard (``GET /api/dashboard/charts`` and ``/counts``) in listmonk's shapes.

Charts (listmonk's ``mat_dashboard_charts``): views and clicks per day over the 30 days up to
the day of the latest one, ``{"link_clicks": [{count, date}], "campaign_views": [...]}``, summed
from the hourly counters of the ``tracking`` read model (an index range over ``hour``).

Counts (listmonk's ``mat_dashboard_counts``): ``subscribers`` (``total`` from the
``subscriber_counts`` counter row; ``blocklisted`` through the ``(status, id)`` index;
``orphans``, subscribers without a list, by an anti-join of the two primary keys), ``lists``
and ``campaigns`` (small tables, counted), ``messages`` (the campaigns' ``sent``). As in
listmonk, a count over nothing is ``null`` (``blocklisted`` with no blocklisted subscriber,
``by_status`` and ``messages`` with no campaign). The orphan count is the one read that grows
with the subscribers (an anti-join of two index scans; listmonk recomputes its materialised
view for it on every call too, unless ``app.cache_slow_queries``).
"""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

_CHART = (
    "WITH last AS (SELECT max(hour) AS h FROM readmodel.tracking_counts WHERE {col} > 0)"
    " SELECT coalesce(json_agg(json_build_object('count', n, 'date', d) ORDER BY d), '[]')"
    " FROM (SELECT sum({col})::bigint AS n, (hour AT TIME ZONE 'UTC')::date AS d"
    " FROM readmodel.tracking_counts, last"
    " WHERE hour >= date_trunc('day', last.h AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    " - interval '30 days'"
    " AND {col} > 0 GROUP BY d) days"
)

_COUNTS = """
SELECT json_build_object(
  'subscribers', json_build_object(
    'total', (SELECT nullif(subscribers, 0) FROM readmodel.subscriber_counts WHERE id = 1),
    'blocklisted', (SELECT nullif(count(*), 0) FROM readmodel.subscribers
                    WHERE status = 'blocklisted'),
    'orphans', (SELECT count(*) FROM readmodel.subscribers s WHERE NOT EXISTS
                (SELECT 1 FROM readmodel.subscriber_lists sl WHERE sl.subscriber_id = s.id))),
  'lists', json_build_object(
    'total', (SELECT count(*) FROM readmodel.lists),
    'private', (SELECT count(*) FROM readmodel.lists WHERE type = 'private'),
    'public', (SELECT count(*) FROM readmodel.lists WHERE type = 'public'),
    'optin_single', (SELECT count(*) FROM readmodel.lists WHERE optin = 'single'),
    'optin_double', (SELECT count(*) FROM readmodel.lists WHERE optin = 'double')),
  'campaigns', json_build_object(
    'total', (SELECT count(*) FROM readmodel.campaigns),
    'by_status', (SELECT json_object_agg(status, n) FROM
                  (SELECT status, count(*) AS n FROM readmodel.campaigns GROUP BY status) r)),
  'messages', (SELECT sum(sent) FROM readmodel.campaigns))
"""

async def dashboard_charts(pool: AsyncConnectionPool[Any]) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = conn.cursor(row_factory=tuple_row)
        out: dict[str, Any] = {}
        for key, col in (("link_clicks", "clicks"), ("campaign_views", "views")):
            await cur.execute(sql.SQL(_CHART).format(col=sql.Identifier(col)))
            row = await cur.fetchone()
            out[key] = row[0] if row else []
    return out


async def dashboard_counts(pool: AsyncConnectionPool[Any]) -> dict[str, Any]:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(_COUNTS)
        row = await cur.fetchone()
    return row[0] if row else {}
