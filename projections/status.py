"""Where each projection stands: position, the log's head, how far behind it is, and how many
events it has quarantined (``projections.quarantine``).

Backs ``postlog projections status`` and the projection-lag gauges of the runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.store import START, Position, head_position
from projections.base import Projection
from projections.quarantine import quarantine_counts

# Counting events behind stops here: a projection this far behind is "very far", exactly or not.
LAG_COUNT_LIMIT = 10_000_000


@dataclass(frozen=True)
class ProjectionStatus:
    """One projection's progress; ``updated_at`` is None when it has never run; ``quarantined``
    counts the events it could not apply (listed by ``postlog projections quarantine``)."""

    name: str
    position: Position
    head: Position
    lag_events: int
    lag_seconds: float
    updated_at: datetime | None
    quarantined: int = 0


async def projection_status(
    pool: AsyncConnectionPool[Any], projections: Sequence[Projection],
    *, count_limit: int = LAG_COUNT_LIMIT,
) -> list[ProjectionStatus]:
    """The status of each projection, in the order given (lag counted up to ``count_limit``)."""
    async with pool.connection(timeout=10) as conn:
        head = await head_position(conn)
        head_at = await _recorded_at(conn, head)
        rows = await _checkpoint_rows(conn, [p.name for p in projections])
        quarantined = await quarantine_counts(conn, [p.name for p in projections])
        out: list[ProjectionStatus] = []
        for projection in projections:
            position, updated_at = rows.get(projection.name, (START, None))
            lag_events = await _events_between(conn, position, head, count_limit)
            lag_seconds = 0.0
            if lag_events and head_at is not None:
                since = await _recorded_at(conn, position) or await _first_recorded_at(conn)
                if since is not None:
                    lag_seconds = max(0.0, (head_at - since).total_seconds())
            out.append(ProjectionStatus(projection.name, position, head, lag_events,
                                        lag_seconds, updated_at,
                                        quarantined.get(projection.name, 0)))
        return out


def format_status_table(rows: Sequence[ProjectionStatus]) -> str:
    """A plain-text table for the terminal (one line per projection)."""
    header = ("PROJECTION", "POSITION", "HEAD", "LAG (EVENTS)", "LAG (SECONDS)", "UPDATED",
              "QUARANTINED")
    lines = [header]
    for row in rows:
        lines.append((
            row.name,
            str(row.position),
            str(row.head),
            str(row.lag_events),
            f"{row.lag_seconds:.1f}",
            row.updated_at.isoformat(timespec="seconds") if row.updated_at else "never",
            str(row.quarantined),
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


async def _checkpoint_rows(
    conn: psycopg.AsyncConnection[Any], names: Sequence[str]
) -> dict[str, tuple[Position, datetime]]:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT name, tx_id::text::bigint, global_position, updated_at"
        " FROM readmodel.projection_checkpoints WHERE name = ANY(%s)",
        (list(names),),
    )
    return {r[0]: (Position(int(r[1]), int(r[2])), r[3]) for r in await cur.fetchall()}


async def _events_between(
    conn: psycopg.AsyncConnection[Any], after: Position, upto: Position, limit: int
) -> int:
    if after >= upto:
        return 0
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT count(*) FROM (SELECT 1 FROM eventlog.events"
        " WHERE (tx_id, global_position) > (%s::text::xid8, %s)"
        " AND (tx_id, global_position) <= (%s::text::xid8, %s) LIMIT %s) AS behind",
        (after.tx_id, after.global_position, upto.tx_id, upto.global_position, limit),
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def _recorded_at(conn: psycopg.AsyncConnection[Any], position: Position) -> datetime | None:
    if position == START:
        return None
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT recorded_at FROM eventlog.events WHERE global_position = %s",
        (position.global_position,),
    )
    row = await cur.fetchone()
    return row[0] if row else None


async def _first_recorded_at(conn: psycopg.AsyncConnection[Any]) -> datetime | None:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT recorded_at FROM eventlog.events ORDER BY tx_id, global_position LIMIT 1"
    )
    row = await cur.fetchone()
    return row[0] if row else None
