"""Where a projection's state lives in Postgres: its tables, its checkpoint row, its writes.

The live runner and the rebuild both go through these functions, so a read model is written the
same way whichever of them fills it. A checkpoint row is the projection's position in the log; it
is updated in the same transaction as the rows it accounts for (exactly-once effect).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from events.store import START, Position, RecordedEvent
from kernel.db import READER_ROLE
from projections.base import (
    BatchProjection,
    PreparedProjection,
    Projection,
    Statement,
    Tables,
)
from projections.quarantine import clear_quarantine

# Channel on which a commit of a projection's batch is announced (payload: the projection's name).
NOTIFY_CHANNEL = "postlog_projections"
# Channel on which the command side announces appends (see services/command_api/executor.py).
EVENTS_CHANNEL = "postlog_events"


# An event paired with the position of the event before it in the log.
Item = tuple[RecordedEvent, Position]


class ProjectionTablesIncomplete(Exception):
    """Some, not all, of a projection's tables exist: only a rebuild can repair that."""


async def lock_projection(conn: psycopg.AsyncConnection[Any], name: str) -> None:
    """Serialise schema changes of one projection (create, swap) across processes."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"postlog.projection:{name}",)
    )


async def existing_tables(
    conn: psycopg.AsyncConnection[Any], tables: Tables
) -> set[str]:
    """Base names (keys of ``tables``) whose table exists."""
    found: set[str] = set()
    for base, ident in tables.items():
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT to_regclass(%s) IS NOT NULL", (ident.as_string(conn),)
        )
        row = await cur.fetchone()
        if row and row[0]:
            found.add(base)
    return found


async def grant_reader(
    conn: psycopg.AsyncConnection[Any], tables: Iterable[sql.Identifier]
) -> None:
    """Let the query side's role read the tables (default privileges do too; this is explicit)."""
    for ident in tables:
        await conn.execute(
            sql.SQL("GRANT SELECT ON {} TO {}").format(ident, sql.Identifier(READER_ROLE))
        )


async def create_tables(
    conn: psycopg.AsyncConnection[Any], projection: Projection, tables: Tables
) -> None:
    for statement in projection.create_statements(tables):
        await conn.execute(sql.Composed([statement]))
    await grant_reader(conn, tables.values())


async def ensure_projection(
    conn: psycopg.AsyncConnection[Any], projection: Projection, tables: Tables
) -> bool:
    """Create the projection's tables and checkpoint row if missing; True if tables were created.

    Fresh tables start from the beginning of the log, so their checkpoint is reset to ``START``
    and the projection's quarantine is emptied.
    Raises ``ProjectionTablesIncomplete`` when only some tables exist.
    """
    async with conn.transaction():
        await lock_projection(conn, projection.name)
        present = await existing_tables(conn, tables)
        created = not present
        if created:
            await create_tables(conn, projection, tables)
            await clear_quarantine(conn, projection.name)  # it starts again from the start
            await conn.execute(
                "INSERT INTO readmodel.projection_checkpoints AS c (name) VALUES (%s)"
                " ON CONFLICT (name) DO UPDATE SET tx_id = '0'::xid8, global_position = 0,"
                " stream_seq = 0, generation = c.generation + 1, updated_at = now()",
                (projection.name,),
            )
            return True
        if present != set(tables):
            raise ProjectionTablesIncomplete(
                f"projection {projection.name} lacks tables {sorted(set(tables) - present)};"
                f" run `postlog projections rebuild {projection.name}`"
            )
        await grant_reader(conn, tables.values())
        await conn.execute(
            "INSERT INTO readmodel.projection_checkpoints (name) VALUES (%s)"
            " ON CONFLICT (name) DO NOTHING",
            (projection.name,),
        )
        return False


async def read_checkpoints(
    conn: psycopg.AsyncConnection[Any], names: Sequence[str], *, lock: bool = False
) -> dict[str, Position]:
    """Positions of the named projections; ``lock`` takes their rows FOR UPDATE (in name order)."""
    query = (
        "SELECT name, tx_id::text::bigint, global_position FROM readmodel.projection_checkpoints"
        " WHERE name = ANY(%s) ORDER BY name"
    )
    if lock:
        query += " FOR UPDATE"
    cur = await conn.cursor(row_factory=tuple_row).execute(query, (list(names),))
    return {row[0]: Position(int(row[1]), int(row[2])) for row in await cur.fetchall()}


async def save_checkpoint(
    conn: psycopg.AsyncConnection[Any], name: str, position: Position
) -> None:
    await conn.execute(
        "UPDATE readmodel.projection_checkpoints SET tx_id = %s::text::xid8,"
        " global_position = %s, updated_at = now() WHERE name = %s",
        (position.tx_id, position.global_position, name),
    )


def statements_for(
    projection: Projection, tables: Tables, events: Iterable[RecordedEvent]
) -> list[Statement]:
    """The statements applying ``events``, skipping categories the projection does not read."""
    out: list[Statement] = []
    categories = set(projection.categories)
    for event in events:
        if event.category in categories:
            out.extend(projection.apply(event, tables))
    return out


async def batch_statements(
    conn: psycopg.AsyncConnection[Any], projection: Projection, tables: Tables,
    events: Iterable[RecordedEvent],
) -> list[Statement]:
    """Like ``statements_for``, first preparing a ``PreparedProjection``'s context (in the
    caller's transaction, so it sees what the batch's events saw). A ``BatchProjection``
    writes the batch with its own (fewer) statements."""
    if not isinstance(projection, PreparedProjection | BatchProjection):
        return statements_for(projection, tables, events)
    categories = set(projection.categories)
    wanted = [e for e in events if e.category in categories]
    if not wanted:
        return []
    context = None
    if isinstance(projection, PreparedProjection):
        context = await projection.prepare(conn, wanted)
    if isinstance(projection, BatchProjection):
        return projection.apply_batch(wanted, tables, context)
    assert isinstance(projection, PreparedProjection)
    return [s for e in wanted for s in projection.apply_prepared(e, tables, context)]


async def run_statements(
    conn: psycopg.AsyncConnection[Any], statements: Sequence[Statement]
) -> None:
    """Execute statements in pipeline mode (one round trip per batch instead of per statement)."""
    if not statements:
        return
    async with conn.pipeline(), conn.cursor() as cur:
        for query, params in statements:
            await cur.execute(sql.Composed([query]), params)


async def notify_projections(conn: psycopg.AsyncConnection[Any], names: Iterable[str]) -> None:
    """Announce advanced projections; inside a transaction Postgres delivers it at commit."""
    for name in sorted(set(names)):
        await conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, name))


def chain(after: Position, events: Sequence[RecordedEvent]) -> list[Item]:
    """Pair each event of a contiguous read with the position of the event before it."""
    items: list[Item] = []
    prev = after
    for event in events:
        items.append((event, prev))
        prev = event.position
    return items


def next_events(
    items: Sequence[Item], checkpoint: Position
) -> tuple[list[RecordedEvent], Position, bool]:
    """The events that follow ``checkpoint`` without a gap, the position after them, gap or not.

    ``items`` pairs each event with the position published before it. An event at or before the
    checkpoint was applied already (duplicate, redelivery); one whose previous position is not
    where the projection stands means events are missing in between (a gap).
    """
    todo: list[RecordedEvent] = []
    position = checkpoint
    for event, prev in items:
        if event.position <= position:
            continue  # already applied (duplicate or redelivery)
        if prev != position:
            return todo, position, True
        todo.append(event)
        position = event.position
    return todo, position, False


def min_position(positions: Mapping[str, Position]) -> Position:
    return min(positions.values(), default=START)
