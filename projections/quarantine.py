"""The quarantine: events a projection could not apply, in ``readmodel.projection_quarantine``.

A row is written in the transaction that moves the projection's checkpoint past its event, so
the read model never silently lacks an event: either it is applied or it is listed here. A row
whose ``caused_by`` is None is an event that failed itself; it freezes its stream for that
projection, and the later events of the stream are listed with ``caused_by`` naming it. The
rows are shown by ``postlog projections status`` (a count), ``postlog projections quarantine``
(the list), ``GET /metrics`` and one ``projection_event_quarantined`` error line each. How to
repair: docs/projections.md, "When a projection cannot apply an event".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row

from events.store import Position, RecordedEvent

log = structlog.get_logger(__name__)

# A rebuild stages its quarantine under ``<projection>__rebuild`` until it swaps its tables in.
STAGED_SUFFIX = "__rebuild"


@dataclass(frozen=True)
class Quarantined:
    """An event to record in the quarantine (the runner or the rebuild decided so)."""

    event: RecordedEvent
    error: str
    attempts: int  # tries before giving up; 0 for an event skipped because its stream is frozen
    first_failed_at: datetime
    caused_by: uuid.UUID | None  # the event that froze the stream, None if this one failed


@dataclass(frozen=True)
class QuarantineRow:
    """A quarantined event as ``postlog projections quarantine`` lists it."""

    projection: str
    position: Position
    event_id: uuid.UUID
    stream_id: str
    type: str
    error: str
    caused_by: uuid.UUID | None
    attempts: int
    first_failed_at: datetime
    quarantined_at: datetime


_COLUMNS = ("projection, event_id, tx_id::text::bigint, global_position, stream_id, type, error,"
            " caused_by, attempts, first_failed_at, quarantined_at")


async def frozen_streams(
    conn: psycopg.AsyncConnection[Any], names: Sequence[str], stream_ids: Iterable[str]
) -> dict[str, dict[str, uuid.UUID]]:
    """Per projection, those of ``stream_ids`` it froze, each with the event that froze it."""
    streams = sorted(set(stream_ids))
    if not names or not streams:
        return {}
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT projection, stream_id, event_id FROM readmodel.projection_quarantine"
        " WHERE projection = ANY(%s) AND stream_id = ANY(%s) AND caused_by IS NULL",
        (list(names), streams),
    )
    found: dict[str, dict[str, uuid.UUID]] = {}
    for projection, stream_id, event_id in await cur.fetchall():
        found.setdefault(projection, {})[stream_id] = event_id
    return found


async def record_quarantined(
    conn: psycopg.AsyncConnection[Any], name: str, rows: Sequence[Quarantined]
) -> None:
    """Write ``rows`` under projection ``name`` (in the caller's transaction; idempotent)."""
    if not rows:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO readmodel.projection_quarantine (projection, event_id, tx_id,"
            " global_position, stream_id, type, error, caused_by, attempts, first_failed_at)"
            " VALUES (%s, %s, %s::text::xid8, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (projection, event_id) DO NOTHING",
            [(name, q.event.event_id, q.event.position.tx_id, q.event.position.global_position,
              q.event.stream_id, q.event.type, q.error, q.caused_by, q.attempts,
              q.first_failed_at) for q in rows],
        )


def log_quarantined(name: str, rows: Sequence[Quarantined]) -> None:
    """One error line per quarantined event (after the transaction that recorded it)."""
    for q in rows:
        log.error(
            "projection_event_quarantined", projection=name, position=str(q.event.position),
            event_id=str(q.event.event_id), stream=q.event.stream_id, type=q.event.type,
            error=q.error, attempts=q.attempts,
            caused_by=str(q.caused_by) if q.caused_by else None,
            repair=f"fix the projection or add an upcaster, then `postlog projections rebuild"
                   f" {name}`",
        )


async def clear_quarantine(conn: psycopg.AsyncConnection[Any], name: str) -> None:
    """Forget projection ``name``'s rows (its tables start again from an empty log)."""
    await conn.execute(
        "DELETE FROM readmodel.projection_quarantine WHERE projection = %s", (name,))


async def replace_quarantine(
    conn: psycopg.AsyncConnection[Any], name: str, staged_as: str
) -> None:
    """Make the rows staged under ``staged_as`` (a rebuild's) the rows of ``name``."""
    await clear_quarantine(conn, name)
    await conn.execute(
        "UPDATE readmodel.projection_quarantine SET projection = %s WHERE projection = %s",
        (name, staged_as),
    )


async def quarantine_counts(
    conn: psycopg.AsyncConnection[Any], names: Sequence[str] | None = None
) -> dict[str, int]:
    """How many events each projection has quarantined (every projection when ``names`` is
    None, rebuilds in progress left out; a projection with none is absent)."""
    query = "SELECT projection, count(*) FROM readmodel.projection_quarantine"
    params: tuple[Any, ...] = (len(STAGED_SUFFIX), STAGED_SUFFIX)
    if names is not None:
        query += " WHERE projection = ANY(%s)"
        params = (list(names),)
    else:
        query += " WHERE right(projection, %s) <> %s"
    cur = await conn.cursor(row_factory=tuple_row).execute(query + " GROUP BY 1", params)
    return {str(r[0]): int(r[1]) for r in await cur.fetchall()}


async def quarantined_events(
    conn: psycopg.AsyncConnection[Any], names: Sequence[str], limit: int = 1000
) -> list[QuarantineRow]:
    """The quarantined events of the named projections, by projection then log order."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        f"SELECT {_COLUMNS} FROM readmodel.projection_quarantine WHERE projection = ANY(%s)"
        " ORDER BY projection, tx_id, global_position LIMIT %s",
        (list(names), limit),
    )
    return [
        QuarantineRow(projection=r[0], event_id=r[1], position=Position(int(r[2]), int(r[3])),
                      stream_id=r[4], type=r[5], error=r[6], caused_by=r[7], attempts=int(r[8]),
                      first_failed_at=r[9], quarantined_at=r[10])
        for r in await cur.fetchall()
    ]


def format_quarantine_table(rows: Sequence[QuarantineRow]) -> str:
    """A plain-text table for the terminal, one line per quarantined event."""
    header = ("PROJECTION", "POSITION", "STREAM", "TYPE", "EVENT", "ATTEMPTS", "FIRST FAILED",
              "ERROR")
    lines = [header]
    for row in rows:
        lines.append((
            row.projection, str(row.position), row.stream_id, row.type, str(row.event_id),
            str(row.attempts), row.first_failed_at.isoformat(timespec="seconds"),
            row.error if row.caused_by is None else f"stream frozen by event {row.caused_by}",
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def counts_by_name(counts: Mapping[str, int], names: Iterable[str]) -> dict[str, int]:
    """``counts`` for every one of ``names`` (0 where none are quarantined)."""
    return {name: counts.get(name, 0) for name in names}
