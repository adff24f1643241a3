"""What the "view in browser" page (``GET /campaign/:campUUID/:subUUID``) renders: the
campaign with its template body, and the subscriber, both by uuid."""

from __future__ import annotations

from typing import Any

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

_CAMPAIGN = """
SELECT c.id, c.uuid::text AS uuid, c.name, c.subject, c.from_email, c.body, c.altbody,
       c.content_type, c.tags, c.type, c.status, c.headers, c.created_at, c.updated_at,
       COALESCE(t.body, '') AS template_body
FROM readmodel.campaigns c LEFT JOIN readmodel.templates t ON t.id = c.template_id
WHERE c.uuid = %s
"""
_SUBSCRIBER = """
SELECT id, uuid::text AS uuid, email, name, attribs, status, created_at, updated_at
FROM readmodel.subscribers WHERE uuid = %s
"""


async def _one(pool: AsyncConnectionPool[Any], query: str, key: str) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, (key,))
        row = await cur.fetchone()
    return dict(row) if row is not None else None


async def campaign_by_uuid(pool: AsyncConnectionPool[Any], uuid: str) -> dict[str, Any] | None:
    return await _one(pool, _CAMPAIGN, uuid)


async def subscriber_by_uuid(pool: AsyncConnectionPool[Any],
                             uuid: str) -> dict[str, Any] | None:
    return await _one(pool, _SUBSCRIBER, uuid)
