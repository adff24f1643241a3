"""Reads of the ``media`` read model (``projections/media.py``).

Rows carry the objects' keys, not URLs: a URL depends on the upload settings in force (the
root URL, ``upload_uri``, an S3 bucket's public URL or a pre-signed link), so the services make
them (``services.media_storage.render_media``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

MEDIA = sql.Identifier("readmodel", "media")
_COLUMNS = sql.SQL("m.id, m.uuid::text AS uuid, m.provider, m.filename, m.content_type, m.key,"
                   " m.thumb, m.size, m.meta, m.created_at")


@dataclass(frozen=True)
class MediaRow:
    """One live media file as the read model has it."""

    id: int
    uuid: str
    provider: str
    filename: str
    content_type: str
    key: str
    thumb: str
    size: int
    meta: dict[str, Any]
    created_at: datetime


def _row(found: dict[str, Any]) -> MediaRow:
    return MediaRow(id=int(found["id"]), uuid=str(found["uuid"]), provider=found["provider"],
                    filename=found["filename"], content_type=found["content_type"],
                    key=found["key"], thumb=found["thumb"], size=int(found["size"]),
                    meta=dict(found["meta"] or {}), created_at=found["created_at"])


def like_pattern(search: str) -> str:
    """listmonk's ``%query%`` (lower-cased) for ``filename ILIKE``; its ``%`` and ``_`` keep
    their LIKE meaning, as in listmonk."""
    return f"%{search.lower()}%"


async def query_media(pool: AsyncConnectionPool[Any], *, provider: str, search: str,
                      offset: int, limit: int | None) -> tuple[list[MediaRow], int]:
    """One page of the ``provider``'s files whose name contains ``search``, newest first,
    and how many match (listmonk's ``query-media``)."""
    where = sql.SQL("m.provider = %s AND m.filename ILIKE %s")
    params: list[Any] = [provider, like_pattern(search)]
    query = sql.SQL(
        "SELECT {cols}, count(*) OVER () AS total FROM {media} m WHERE {where}"
        " ORDER BY m.created_at DESC, m.id DESC OFFSET %s LIMIT %s"
    ).format(cols=_COLUMNS, media=MEDIA, where=where)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, [*params, offset, limit])
        rows = await cur.fetchall()
        if rows:
            return [_row(r) for r in rows], int(rows[0]["total"])
        count = await conn.cursor().execute(
            sql.SQL("SELECT count(*) FROM {} m WHERE {}").format(MEDIA, where), params)
        found = await count.fetchone()
    return [], int(found[0]) if found else 0


async def fetch_media(pool: AsyncConnectionPool[Any], media_id: int) -> MediaRow | None:
    """One live media file, or None."""
    query = sql.SQL("SELECT {} FROM {} m WHERE m.id = %s").format(_COLUMNS, MEDIA)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, (media_id,))
        row = await cur.fetchone()
    return _row(row) if row else None
