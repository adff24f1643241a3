"""Reads of the ``templates`` read model, answering in listmonk's JSON shape.

The command side reuses these to answer a write with exactly what a GET returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

TEMPLATES = sql.Identifier("readmodel", "templates")

_COLUMNS = sql.SQL(
    "id, created_at, updated_at, name, subject, type, body, body_source, is_default")


def timestamp(value: datetime) -> str:
    """RFC 3339 with microseconds and offset, e.g. ``2019-01-01T09:00:00.000000+05:30``."""
    return value.isoformat(timespec="microseconds")


def render_template(row: dict[str, Any], no_body: bool = False) -> dict[str, Any]:
    """A template as listmonk's JSON has it (same keys, same order).

    Like listmonk, ``no_body`` leaves ``body`` out (Go omits the empty string) and sends
    ``body_source`` as null.
    """
    out: dict[str, Any] = {
        "id": row["id"],
        "created_at": timestamp(row["created_at"]),
        "updated_at": timestamp(row["updated_at"]),
        "name": row["name"],
        "subject": row["subject"],
        "type": row["type"],
    }
    if not no_body and row["body"]:
        out["body"] = row["body"]
    out["body_source"] = None if no_body else row["body_source"]
    out["is_default"] = row["is_default"]
    return out


async def all_templates(
    pool: AsyncConnectionPool[Any], no_body: bool = False
) -> list[dict[str, Any]]:
    """Every template, oldest first (listmonk orders by ``created_at``)."""
    query = sql.SQL("SELECT {} FROM {} ORDER BY created_at, id").format(_COLUMNS, TEMPLATES)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query)
        return [render_template(r, no_body) for r in await cur.fetchall()]


async def fetch_template(
    pool: AsyncConnectionPool[Any], template_id: int, no_body: bool = False
) -> dict[str, Any] | None:
    """One template in listmonk's JSON shape, or ``None``."""
    query = sql.SQL("SELECT {} FROM {} WHERE id = %s").format(_COLUMNS, TEMPLATES)
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(query, (template_id,))
        row = await cur.fetchone()
    return render_template(row, no_body) if row else None
