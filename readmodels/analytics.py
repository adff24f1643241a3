"""Campaign analytics (``GET /api/campaigns/analytics/:type``) from the tracking counters.

Shaped like listmonk's ``get-campaign-analytics-counts`` / ``-unique-counts``,
``get-campaign-bounce-counts`` and ``get-campaign-link-counts``: per campaign and hour (a range
shorter than 7 days) or day, ``[{campaign_id, count, timestamp}]`` in time order; links as
``[{url, count}]``, most clicked first, at most 50. Views and clicks sum the hourly rows of
``readmodel.tracking_counts`` / ``link_counts`` (an indexed read of a few rows per campaign and
hour, never a count over the hits); with ``privacy.individual_tracking`` on, listmonk counts
subscribers instead of hits, here the ``unique_*`` columns (a subscriber counted in the hour of
their first view or click of the campaign). Bounces come from ``readmodel.bounces`` by campaign.
Hours and days are UTC; a range takes the hours that start inside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import timestamp

CountKind = Literal["views", "clicks", "bounces"]
LINKS_LIMIT = 50

_COUNTERS = {("views", False): "views", ("views", True): "unique_views",
             ("clicks", False): "clicks", ("clicks", True): "unique_clicks"}


def unit_for(start: datetime, end: datetime) -> str:
    """listmonk's bucket: ``day`` for a range of 7 days or more, else ``hour``."""
    return "day" if end - start >= timedelta(days=7) else "hour"


async def _rows(pool: AsyncConnectionPool[Any], query: sql.Composable,
                params: dict[str, Any]) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL TimeZone = 'UTC'")
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(query, params)
        rows: list[dict[str, Any]] = await cur.fetchall()
        return rows


async def campaign_counts(pool: AsyncConnectionPool[Any], kind: CountKind,
                          campaign_ids: Sequence[int], start: datetime, end: datetime,
                          unique: bool = False) -> list[dict[str, Any]]:
    """``[{campaign_id, count, timestamp}]`` of ``kind`` between ``start`` and ``end``."""
    params = {"ids": list(campaign_ids), "start": start, "end": end,
              "unit": unit_for(start, end)}
    query: sql.Composable
    if kind == "bounces":
        query = sql.SQL(
            "SELECT campaign_id, count(*) AS count, date_trunc(%(unit)s, created_at) AS ts"
            " FROM readmodel.bounces WHERE campaign_id = ANY(%(ids)s)"
            " AND created_at >= %(start)s AND created_at <= %(end)s"
            " GROUP BY campaign_id, ts ORDER BY ts, campaign_id")
    else:
        column = sql.Identifier(_COUNTERS[(kind, unique)])
        query = sql.SQL(
            "SELECT campaign_id, sum({col})::bigint AS count, date_trunc(%(unit)s, hour) AS ts"
            " FROM readmodel.tracking_counts WHERE campaign_id = ANY(%(ids)s)"
            " AND hour >= date_trunc('hour', %(start)s::timestamptz) AND hour <= %(end)s"
            " AND {col} > 0 GROUP BY campaign_id, ts ORDER BY ts, campaign_id").format(
                col=column)
    rows = await _rows(pool, query, params)
    return [{"campaign_id": r["campaign_id"], "count": r["count"],
             "timestamp": timestamp(r["ts"])} for r in rows]


async def link_counts(pool: AsyncConnectionPool[Any], campaign_ids: Sequence[int],
                      start: datetime, end: datetime,
                      unique: bool = False) -> list[dict[str, Any]]:
    """``[{url, count}]``: clicks per URL (clicking subscribers with ``unique``)."""
    column = sql.Identifier("unique_clicks" if unique else "clicks")
    query = sql.SQL(
        "SELECT l.url, sum(c.{col})::bigint AS count FROM readmodel.link_counts c"
        " JOIN readmodel.links l ON l.id = c.link_id"
        " WHERE c.campaign_id = ANY(%(ids)s)"
        " AND c.hour >= date_trunc('hour', %(start)s::timestamptz) AND c.hour <= %(end)s"
        " GROUP BY l.url HAVING sum(c.{col}) > 0 ORDER BY count DESC, l.url LIMIT %(limit)s"
    ).format(col=column)
    rows = await _rows(pool, query, {"ids": list(campaign_ids), "start": start, "end": end,
                                     "limit": LINKS_LIMIT})
    return [{"url": r["url"], "count": r["count"]} for r in rows]
