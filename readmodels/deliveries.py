"""Reads of the ``deliveries`` read model (``projections/deliveries.py``).

``delivery_page`` answers ``GET /api/campaigns/:id/deliveries``: one row per recipient the
sender recorded, with the subscriber's uuid and e-mail joined from the subscribers read model
(empty once the subscriber was deleted). ``failed_count`` is what a retry re-sends;
``send_rate`` is listmonk's ``rate`` of ``running/stats`` (messages delivered over the last
minute).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row, tuple_row
from psycopg_pool import AsyncConnectionPool

from readmodels.lists import timestamp

STATUSES = ("sent", "failed", "retrying")

_PAGE = """
SELECT d.subscriber_id, COALESCE(s.uuid::text, '') AS subscriber_uuid,
       COALESCE(s.email, '') AS email, d.status, d.attempts, d.code, d.error, d.messenger,
       d.updated_at
FROM readmodel.campaign_deliveries d
LEFT JOIN readmodel.subscribers s ON s.id = d.subscriber_id
WHERE d.campaign_id = %(campaign)s AND (%(status)s::text IS NULL OR d.status = %(status)s)
ORDER BY d.subscriber_id
OFFSET %(offset)s LIMIT %(limit)s
"""

_COUNT = """
SELECT count(*) FROM readmodel.campaign_deliveries
WHERE campaign_id = %(campaign)s AND (%(status)s::text IS NULL OR status = %(status)s)
"""


@dataclass(frozen=True)
class DeliveryQuery:
    """A page of one campaign's delivery records, optionally of one status."""

    campaign_id: int
    status: str | None = None
    offset: int = 0
    limit: int | None = 20


def render_delivery(row: dict[str, Any]) -> dict[str, Any]:
    """A delivery record as the API answers it; ``error`` reads like an SMTP reply
    (``"550 5.1.1 no such user"``) for a failure, and is empty once delivered."""
    code, text = int(row["code"]), str(row["error"])
    error = ""
    if row["status"] != "sent":
        error = f"{code} {text}".strip() if code else text
    return {"subscriber_id": row["subscriber_id"], "subscriber_uuid": row["subscriber_uuid"],
            "email": row["email"], "status": row["status"], "attempts": row["attempts"],
            "error": error, "messenger": row["messenger"],
            "updated_at": timestamp(row["updated_at"])}


async def delivery_page(pool: AsyncConnectionPool[Any], q: DeliveryQuery
                        ) -> tuple[list[dict[str, Any]], int]:
    """One page of delivery records in subscriber order, and how many match."""
    params = {"campaign": q.campaign_id, "status": q.status, "offset": q.offset,
              "limit": q.limit}
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(_PAGE, params)
        rows = await cur.fetchall()
        counted = await conn.cursor(row_factory=tuple_row).execute(_COUNT, params)
        total = await counted.fetchone()
    return [render_delivery(r) for r in rows], int(total[0]) if total else 0


async def failed_count(conn: psycopg.AsyncConnection[Any], campaign_id: int) -> int:
    """How many of the campaign's deliveries are recorded as failed."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT count(*) FROM readmodel.campaign_deliveries"
        " WHERE campaign_id = %s AND status = 'failed'", (campaign_id,))
    row = await cur.fetchone()
    return int(row[0]) if row else 0
