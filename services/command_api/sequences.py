"""Ids taken from the event log's sequences (``eventlog.list_id_seq``...), inside the
command's transaction, so a new entity's id is known before its first event is appended."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row


async def next_id(conn: psycopg.AsyncConnection[Any], sequence: str) -> int:
    """The next value of ``sequence`` (a qualified name such as ``eventlog.list_id_seq``)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        sql.SQL("SELECT nextval({})").format(sql.Literal(sequence)))
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
