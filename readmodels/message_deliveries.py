"""A subscriber's send history: campaign deliveries and single messages, newest first.

``subscriber_history`` answers ``GET /api/subscribers/:id/deliveries`` from two read models:
``campaign_deliveries`` (one row per campaign the subscriber was a recipient of,
``projections/deliveries.py``) and ``message_deliveries`` (transactional messages, campaign
tests and opt-in confirmations, ``projections/message_deliveries.py``). Both drop an erased
subscriber's rows, so an erased subscriber has no history. Rows are ordered by their last
change, newest first, then kind and id (a stable order to page through).

``error`` reads like an SMTP reply for a failure (``"550 5.1.1 no such user"``); for a
skipped message it says why; an opt-in request not yet rendered shows as ``queued``.
"""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import timestamp

_HISTORY = """
SELECT h.*, count(*) OVER () AS total FROM (
    SELECT 'campaign' AS kind, NULL::text AS message_id, d.campaign_id,
           COALESCE(c.name, '') AS campaign_name, NULL::bigint AS template_id, d.status,
           d.attempts, d.code, d.error, d.messenger, d.updated_at
    FROM readmodel.campaign_deliveries d
    LEFT JOIN readmodel.campaigns c ON c.id = d.campaign_id
    WHERE d.subscriber_id = %(id)s
    UNION ALL
    SELECT m.kind, m.message_id::text, m.campaign_id, COALESCE(c.name, ''), m.template_id,
           m.status, m.attempts, m.code, m.error, m.messenger, m.updated_at
    FROM readmodel.message_deliveries m
    LEFT JOIN readmodel.campaigns c ON c.id = m.campaign_id
    WHERE m.subscriber_id = %(id)s
) h
ORDER BY h.updated_at DESC, h.kind, h.campaign_id, h.message_id
OFFSET %(offset)s LIMIT %(limit)s
"""

_COUNT = """
SELECT (SELECT count(*) FROM readmodel.campaign_deliveries WHERE subscriber_id = %(id)s)
     + (SELECT count(*) FROM readmodel.message_deliveries WHERE subscriber_id = %(id)s)
"""


def render_entry(row: dict[str, Any]) -> dict[str, Any]:
    """One entry of the history as the API answers it."""
    status = "queued" if row["status"] == "requested" else str(row["status"])
    code, text = int(row["code"]), str(row["error"])
    error = ""
    if status in ("failed", "retrying"):
        error = f"{code} {text}".strip() if code else text
    elif status == "skipped":
        error = text
    return {"kind": row["kind"], "message_id": row["message_id"],
            "campaign_id": row["campaign_id"], "campaign_name": row["campaign_name"],
            "template_id": row["template_id"], "status": status, "attempts": row["attempts"],
            "error": error, "messenger": row["messenger"],
            "updated_at": timestamp(row["updated_at"])}


async def subscriber_history(pool: AsyncConnectionPool[Any], subscriber_id: int, *,
                             offset: int = 0, limit: int | None = 20
                             ) -> tuple[list[dict[str, Any]], int]:
    """One page of the subscriber's history, newest first, and how many entries it has."""
    params = {"id": subscriber_id, "offset": offset, "limit": limit}
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(_HISTORY, params)
        rows = await cur.fetchall()
        if rows:
            return [render_entry(r) for r in rows], int(rows[0]["total"])
        counted = await conn.cursor(row_factory=dict_row).execute(_COUNT, params)
        found = await counted.fetchone()
    return [], int(next(iter(found.values()))) if found else 0
