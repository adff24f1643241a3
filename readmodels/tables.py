"""Whether the read models' tables exist yet (a fresh install has none until its projector
ran): commands that count over them (a campaign's audience) and the scheduler check first."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row


async def tables_exist(conn: psycopg.AsyncConnection[Any], *names: str) -> bool:
    """Whether every ``readmodel.<name>`` table exists (a fresh install has none until its
    projector ran)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT bool_and(to_regclass('readmodel.' || n) IS NOT NULL) FROM unnest(%s::text[]) n",
        (list(names),))
    row = await cur.fetchone()
    return bool(row and row[0])
