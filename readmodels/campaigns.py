"""Reads of the ``campaigns`` read model, answering in listmonk's JSON shape.

The command side reuses ``fetch_campaign`` to answer a write with exactly what a GET returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import timestamp
from readmodels.paging import all_of, fetch_page, text_search

CAMPAIGNS = sql.Identifier("readmodel", "campaigns")
CAMPAIGN_LISTS = sql.Identifier("readmodel", "campaign_lists")
CAMPAIGN_MEDIA = sql.Identifier("readmodel", "campaign_media")
ORDER_FIELDS = ("name", "status", "created_at", "updated_at")
DEFAULT_ORDER_FIELD = "created_at"

_COLUMNS = sql.SQL(
    "c.id, c.created_at, c.updated_at, c.views, c.clicks, c.bounces,"
    " COALESCE((SELECT json_agg(json_build_object('id', l.list_id, 'name', l.list_name)"
    " ORDER BY l.position) FROM {lists} l WHERE l.campaign_id = c.id), '[]'::json) AS lists,"
    " c.started_at, c.to_send, c.sent, c.uuid::text AS uuid, c.type, c.name, c.subject,"
    " c.from_email, c.body, c.body_source, c.altbody, c.send_at, c.status, c.content_type,"
    " c.tags, c.headers, c.attribs, c.template_id, c.messenger, c.archive, c.archive_slug,"
    " c.archive_template_id, c.archive_meta,"
    # the campaign's attachments (projections/media.py), listmonk's {id, filename}
    " COALESCE((SELECT json_agg(json_build_object('id', m.media_id, 'filename', m.filename)"
    " ORDER BY m.position) FROM {media} m WHERE m.campaign_id = c.id), '[]'::json) AS media"
).format(lists=CAMPAIGN_LISTS, media=CAMPAIGN_MEDIA)


def _time(value: datetime | None) -> str | None:
    return timestamp(value) if value is not None else None


def render_campaign(row: dict[str, Any], no_body: bool = False,
                    no_body_source: bool = False) -> dict[str, Any]:
    """A campaign as listmonk's JSON has it (same keys, same order; ``tags``, ``headers``
    and ``lists`` never null)."""
    return {
        "id": row["id"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
        "views": row["views"],
        "clicks": row["clicks"],
        "bounces": row["bounces"],
        "lists": list(row["lists"] or []),
        "media": list(row.get("media") or []),
        "started_at": _time(row["started_at"]),
        "to_send": row["to_send"],
        "sent": row["sent"],
        "uuid": row["uuid"],
        "type": row["type"],
        "name": row["name"],
        "subject": row["subject"],
        "from_email": row["from_email"],
        "body": "" if no_body else row["body"],
        "body_source": None if no_body_source else row["body_source"],
        "altbody": row["altbody"],
        "send_at": _time(row["send_at"]),
        "status": row["status"],
        "content_type": row["content_type"],
        "tags": list(row["tags"] or []),
        "headers": list(row["headers"] or []),
        "attribs": dict(row["attribs"] or {}),
        "template_id": row["template_id"],
        "messenger": row["messenger"],
        "archive": row["archive"],
        "archive_slug": row["archive_slug"],
        "archive_template_id": row["archive_template_id"],
        "archive_meta": row["archive_meta"] if row["archive_meta"] is not None else {},
    }


@dataclass(frozen=True)
class CampaignQuery:
    """Filters, order and page of ``GET /api/campaigns`` (already validated)."""

    search: str = ""
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    order_by: str = DEFAULT_ORDER_FIELD
    descending: bool = True
    offset: int = 0
    limit: int | None = 20
    no_body: bool = False
    # Only campaigns on one of these lists (the caller's list role); None: every campaign.
    permitted_lists: tuple[int, ...] | None = None


def search_condition(search: str) -> tuple[sql.Composable, list[Any]]:
    """listmonk's campaign search: every word of the text in name and subject (full text),
    or the text inside ``name || ' ' || subject``."""
    return text_search(sql.SQL("concat(c.name, ' ', c.subject)"), search)


def _filters(q: CampaignQuery) -> tuple[sql.Composable, list[Any]]:
    where: list[sql.Composable] = []
    params: list[Any] = []
    if q.search:
        cond, args = search_condition(q.search)
        where.append(cond)
        params.extend(args)
    if q.statuses:
        where.append(sql.SQL("c.status = ANY(%s::text[])"))
        params.append(list(q.statuses))
    if q.tags:
        where.append(sql.SQL("c.tags @> %s::text[]"))
        params.append(list(q.tags))
    if q.permitted_lists is not None:
        where.append(sql.SQL("EXISTS (SELECT 1 FROM {} cl WHERE cl.campaign_id = c.id"
                             " AND cl.list_id = ANY(%s))").format(CAMPAIGN_LISTS))
        params.append(list(q.permitted_lists))
    return all_of(where), params


async def query_campaigns(
    pool: AsyncConnectionPool[Any], q: CampaignQuery
) -> tuple[list[dict[str, Any]], int]:
    """One page of campaigns and the number of campaigns matching the filters."""
    if q.order_by not in ORDER_FIELDS:
        raise ValueError(f"cannot order by {q.order_by}")
    where, params = _filters(q)
    rows, total = await fetch_page(
        pool, columns=_COLUMNS, table=CAMPAIGNS, alias="c", where=where, params=params,
        order_by=q.order_by, descending=q.descending, offset=q.offset, limit=q.limit)
    return [render_campaign(r, q.no_body, q.no_body) for r in rows], total


async def fetch_campaign(
    pool: AsyncConnectionPool[Any], campaign_id: int, no_body: bool = False
) -> dict[str, Any] | None:
    """One campaign in listmonk's JSON shape, or ``None``."""
    query = sql.SQL("SELECT {} FROM {} c WHERE c.id = %s").format(_COLUMNS, CAMPAIGNS)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, (campaign_id,))
        row = await cur.fetchone()
    return render_campaign(row, no_body) if row else None


async def running_stats(
    pool: AsyncConnectionPool[Any], ids: list[int]
) -> list[dict[str, Any]]:
    """Progress of the running campaigns (of ``ids`` when given), listmonk's ``CampaignStats``.

    ``net_rate`` is messages per minute since the start; ``rate`` the messages delivered over
    the last minute (``readmodel.delivery_rates``, kept by the deliveries projection).
    """
    query = sql.SQL(
        "SELECT c.id, c.status, c.to_send, c.sent, c.started_at, c.updated_at,"
        " COALESCE((SELECT sum(r.sent) FROM {rates} r WHERE r.campaign_id = c.id"
        " AND r.second > now() - interval '1 minute'), 0) AS rate FROM {camps} c"
        " WHERE c.status = 'running' AND (cardinality(%s::bigint[]) = 0 OR c.id = ANY(%s))"
        " ORDER BY c.id").format(camps=CAMPAIGNS,
                                 rates=sql.Identifier("readmodel", "delivery_rates"))
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, (ids, ids))
        rows = await cur.fetchall()
    return [_stats(r) for r in rows]


def _stats(row: dict[str, Any]) -> dict[str, Any]:
    net_rate = 0
    started, updated = row["started_at"], row["updated_at"]
    if started is not None and updated is not None:
        minutes = max(int((updated - started).total_seconds() // 60), 1)
        net_rate = row["sent"] // minutes
        if net_rate > row["sent"] or net_rate > row["to_send"]:
            net_rate = row["sent"]
    return {"id": row["id"], "status": row["status"], "to_send": row["to_send"],
            "sent": row["sent"], "started_at": _time(started), "updated_at": _time(updated),
            "rate": int(row.get("rate") or 0), "net_rate": net_rate}


async def ids_matching(conn: psycopg.AsyncConnection[Any], search: str) -> list[int]:
    """Ids of the campaigns a bulk delete by ``query`` removes (every campaign when empty)."""
    where, params = search_condition(search) if search else (sql.SQL("TRUE"), [])
    query = sql.SQL("SELECT c.id FROM {} c WHERE {} ORDER BY c.id").format(CAMPAIGNS, where)
    cur = await conn.cursor().execute(query, params)
    return [int(r[0]) for r in await cur.fetchall()]


_PREVIEW = """
SELECT c.id, c.name, c.subject, c.from_email, c.body, c.content_type, c.tags, c.type,
       c.status, c.created_at, c.updated_at, COALESCE(t.body, '') AS template_body
FROM readmodel.campaigns c
LEFT JOIN readmodel.templates t
  ON t.id = (CASE WHEN %(template_id)s::bigint = 0 THEN c.template_id
             ELSE %(template_id)s::bigint END)
WHERE c.id = %(id)s
"""


async def campaign_for_preview(pool: AsyncConnectionPool[Any], campaign_id: int,
                               template_id: int) -> dict[str, Any] | None:
    """What a preview renders: the campaign and the body of its template (or of
    ``template_id`` when not 0); None for an unknown campaign."""
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(
            _PREVIEW, {"id": campaign_id, "template_id": template_id})
        row = await cur.fetchone()
    return dict(row) if row is not None else None
