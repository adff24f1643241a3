"""One subscriber's data beyond its profile: the privacy export, bounces and activity.

Shaped like listmonk's ``export-subscriber-data``, ``query-bounces`` and
``get-subscriber-activity``. Campaign views and link clicks come from the ``tracking`` read
model (listmonk's ``campaign_views``, ``link_clicks`` and ``links`` tables, each row with the
``hits`` it stands for: repeats within a dedupe window are one row, docs/tracking.md), read by
``subscriber_id``; before those tables exist the answers hold empty arrays, exactly what
listmonk gives a subscriber with no activity.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import timestamp

PRIVATE_LIST = "Private list"
BOUNCES_LIMIT = 1000  # listmonk answers at most this many of a subscriber's bounces

_TRACKING = ("campaign_views", "link_clicks", "links", "campaigns")

_PROFILE = sql.SQL(
    "SELECT id, uuid::text AS uuid, email, name, attribs, status, created_at, updated_at"
    " FROM readmodel.subscribers WHERE id = %s")
_SUBSCRIPTIONS = sql.SQL(
    "SELECT sl.status AS subscription_status, l.name, l.type, sl.created_at"
    " FROM readmodel.subscriber_lists sl JOIN readmodel.lists l ON l.id = sl.list_id"
    " WHERE sl.subscriber_id = %s ORDER BY l.id")
_EXPORT_VIEWS = sql.SQL(
    "SELECT c.subject AS campaign, sum(v.hits)::bigint AS views"
    " FROM readmodel.campaign_views v LEFT JOIN readmodel.campaigns c ON c.id = v.campaign_id"
    " WHERE v.subscriber_id = %s GROUP BY c.id, c.subject ORDER BY c.id")
_EXPORT_CLICKS = sql.SQL(
    "SELECT k.url, sum(lc.hits)::bigint AS clicks"
    " FROM readmodel.link_clicks lc LEFT JOIN readmodel.links k ON k.id = lc.link_id"
    " WHERE lc.subscriber_id = %s GROUP BY k.id, k.url ORDER BY k.id")
_ACTIVITY_VIEWS = sql.SQL(
    "SELECT c.id, c.uuid::text AS uuid, c.name, c.subject, sum(v.hits)::bigint AS view_count,"
    " max(v.created_at) AS last_viewed_at"
    " FROM readmodel.campaign_views v LEFT JOIN readmodel.campaigns c ON c.id = v.campaign_id"
    " WHERE v.subscriber_id = %s GROUP BY c.id, c.uuid, c.name, c.subject"
    " ORDER BY last_viewed_at DESC")
_ACTIVITY_CLICKS = sql.SQL(
    "SELECT k.id AS link_id, k.url, c.id AS campaign_id, c.uuid::text AS campaign_uuid,"
    " c.name AS campaign_name, c.subject AS campaign_subject,"
    " sum(lc.hits)::bigint AS click_count,"
    " max(lc.created_at) AS last_clicked_at"
    " FROM readmodel.link_clicks lc LEFT JOIN readmodel.links k ON k.id = lc.link_id"
    " LEFT JOIN readmodel.campaigns c ON c.id = lc.campaign_id"
    " WHERE lc.subscriber_id = %s GROUP BY k.id, k.url, c.id, c.uuid, c.name, c.subject"
    " ORDER BY last_clicked_at DESC")
_BOUNCES = sql.SQL(
    "SELECT b.id, b.type, b.source, b.meta, b.created_at, s.email, s.uuid::text AS"
    " subscriber_uuid, b.subscriber_id, s.status AS subscriber_status, b.campaign_id,"
    " c.name AS campaign_name"
    " FROM readmodel.bounces b LEFT JOIN readmodel.subscribers s ON s.id = b.subscriber_id"
    " LEFT JOIN readmodel.campaigns c ON c.id = b.campaign_id"
    " WHERE b.subscriber_id = %s ORDER BY b.created_at DESC, b.id DESC LIMIT %s")


async def _rows(
    conn: psycopg.AsyncConnection[Any], query: sql.SQL, *params: Any
) -> list[dict[str, Any]]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(query, params)
    return await cur.fetchall()


async def _tracking(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the tracking read models (views, clicks, links, campaigns) exist yet."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute("SELECT bool_and(to_regclass('readmodel.' || t) IS NOT NULL)"
                      " FROM unnest(%s::text[]) AS t", (list(_TRACKING),))
    row = await cur.fetchone()
    return bool(row and row[0])


def _stamped(row: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {k: (timestamp(v) if k in fields and v is not None else v) for k, v in row.items()}


async def subscriber_export(pool: AsyncConnectionPool[Any], subscriber_id: int) -> dict[str, Any]:
    """``{profile, subscriptions, campaign_views, link_clicks}``; private lists' names are
    masked. An unknown subscriber gives listmonk's ``{"profile": {}, ...}`` with empty arrays."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        profile = [_stamped(r, "created_at", "updated_at")
                   for r in await _rows(conn, _PROFILE, subscriber_id)]
        subscriptions = [
            {"subscription_status": r["subscription_status"],
             "name": PRIVATE_LIST if r["type"] == "private" else r["name"],
             "type": r["type"], "created_at": timestamp(r["created_at"])}
            for r in await _rows(conn, _SUBSCRIPTIONS, subscriber_id)] if profile else []
        views, clicks = await _export_tracking(conn, subscriber_id) if profile else ([], [])
    return {"profile": profile or {}, "subscriptions": subscriptions, "campaign_views": views,
            "link_clicks": clicks}


async def export_tracking(
    pool: AsyncConnectionPool[Any], subscriber_id: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``campaign_views`` and ``link_clicks`` of a subscriber's data export (also the
    subscriber's own export from the public pages)."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return await _export_tracking(conn, subscriber_id)


async def _export_tracking(conn: psycopg.AsyncConnection[Any], subscriber_id: int
                           ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if not await _tracking(conn):
        return [], []
    return (await _rows(conn, _EXPORT_VIEWS, subscriber_id),
            await _rows(conn, _EXPORT_CLICKS, subscriber_id))


async def subscriber_activity(
    pool: AsyncConnectionPool[Any], subscriber_id: int
) -> dict[str, Any]:
    """``{campaign_views, link_clicks}`` with counts and last times, newest first."""
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        if not await _tracking(conn):
            return {"campaign_views": [], "link_clicks": []}
        views = await _rows(conn, _ACTIVITY_VIEWS, subscriber_id)
        clicks = await _rows(conn, _ACTIVITY_CLICKS, subscriber_id)
    return {"campaign_views": [_stamped(r, "last_viewed_at") for r in views],
            "link_clicks": [_stamped(r, "last_clicked_at") for r in clicks]}


def render_bounce(row: dict[str, Any]) -> dict[str, Any]:
    """A bounce as listmonk's JSON has it (empty subscriber fields are left out, like Go's
    ``omitempty``)."""
    out: dict[str, Any] = {
        "id": row["id"], "type": row["type"], "source": row["source"],
        "meta": row["meta"] if row["meta"] is not None else {},
        "created_at": timestamp(row["created_at"]),
    }
    for key in ("email", "subscriber_uuid", "subscriber_id"):
        if row[key]:
            out[key] = row[key]
    out["subscriber_status"] = row["subscriber_status"] or ""
    out["campaign"] = (None if row["campaign_id"] is None
                       else {"id": row["campaign_id"], "name": row["campaign_name"]})
    return out


async def subscriber_bounces(
    pool: AsyncConnectionPool[Any], subscriber_id: int
) -> list[dict[str, Any]]:
    """The subscriber's bounces, newest first (at most ``BOUNCES_LIMIT``)."""
    async with pool.connection() as conn:
        rows = await _rows(conn, _BOUNCES, subscriber_id, BOUNCES_LIMIT)
    return [render_bounce(r) for r in rows]
