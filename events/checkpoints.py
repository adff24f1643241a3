"""Checkpoints of processes that follow the log (``eventlog.checkpoints``), and their lag."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import tuple_row

from events.store import START, Position

LAG_COUNT_CAP = 100_000


async def load_checkpoint(conn: psycopg.AsyncConnection[Any], name: str) -> Position:
    """The last position handled by ``name`` (``START`` when it never ran)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT tx_id::text::bigint, global_position FROM eventlog.checkpoints WHERE name = %s",
        (name,),
    )
    row = await cur.fetchone()
    return Position(int(row[0]), int(row[1])) if row else START


async def save_checkpoint(
    conn: psycopg.AsyncConnection[Any], name: str, position: Position
) -> None:
    """Move ``name`` forward to ``position``; never backwards (a stale writer cannot rewind it)."""
    await conn.execute(
        "INSERT INTO eventlog.checkpoints AS c (name, tx_id, global_position, updated_at)"
        " VALUES (%s, %s::text::xid8, %s, now())"
        " ON CONFLICT (name) DO UPDATE"
        " SET tx_id = excluded.tx_id, global_position = excluded.global_position,"
        " updated_at = excluded.updated_at"
        " WHERE (c.tx_id, c.global_position) < (excluded.tx_id, excluded.global_position)",
        (name, position.tx_id, position.global_position),
    )


async def pending_since(
    conn: psycopg.AsyncConnection[Any], after: Position
) -> tuple[int, float]:
    """(committed events after ``after``, seconds the oldest of them has waited).

    Counts at most ``LAG_COUNT_CAP`` events so a far-behind reader stays cheap to measure.
    """
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(recorded_at)), 0)::float8"
        " FROM (SELECT recorded_at FROM eventlog.events"
        "  WHERE (tx_id, global_position) > (%s::text::xid8, %s)"
        "  AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
        "  ORDER BY tx_id, global_position LIMIT %s) pending",
        (after.tx_id, after.global_position, LAG_COUNT_CAP),
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), max(float(row[1]), 0.0)
