"""Rebuild a read model from the whole log without downtime (``postlog projections rebuild NAME``).

Fresh tables (``<table>__rebuild``) are filled from position zero in batches while the live
tables keep serving reads and the live runner keeps writing them. Then one short transaction
locks the projection's checkpoint row (the runner locks it before every write, so it pauses),
applies what arrived since the replay, renames the live tables to ``__old`` and the fresh ones to
the live names, sets the checkpoint and drops the old tables. Readers wait only for the renames.

An event the projection cannot apply does not end the rebuild: like the runner, the rebuild
tries it ``QUARANTINE_AFTER`` times (in separate transactions), then quarantines it and freezes
its stream (``projections.isolation``). Its quarantine is staged under ``<name>__rebuild`` and
replaces the projection's rows in the swap, so after a rebuild the quarantine lists exactly what
the rebuilt tables lack (nothing, once the cause is fixed). A projection-wide fault (its SQL
names a missing table) or a database outage still ends the rebuild with the error, leaving the
live tables as they were.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any, TextIO

import psycopg
import structlog
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.store import START, Position, RecordedEvent, head_position, read_all
from kernel.settings import Settings
from projections.base import Projection, Tables, live_tables
from projections.faults import Fault, describe
from projections.isolation import QUARANTINE_AFTER, Verdict, apply_isolated, quarantine_at_once
from projections.quarantine import (
    STAGED_SUFFIX,
    clear_quarantine,
    frozen_streams,
    log_quarantined,
    record_quarantined,
    replace_quarantine,
)
from projections.storage import (
    create_tables,
    existing_tables,
    grant_reader,
    lock_projection,
    notify_projections,
)

log = structlog.get_logger(__name__)

REBUILD_SUFFIX = "__rebuild"
OLD_SUFFIX = "__old"


class RebuildInProgress(Exception):
    """Another process is rebuilding the same projection."""


async def rebuild(
    settings: Settings,
    pool: AsyncConnectionPool[Any],
    projection: Projection,
    progress: bool = True,
    *,
    batch_size: int = 1000,
    swap_attempts: int = 5,
) -> Position:
    """Replay the log into fresh tables and swap them in; returns the position they reached."""
    del settings  # part of the interface; everything needed comes through the pool
    fresh = live_tables(projection, REBUILD_SUFFIX)
    async with pool.connection() as guard:
        key = f"postlog.rebuild:{projection.name}"
        cur = await guard.cursor(row_factory=tuple_row).execute(
            "SELECT pg_try_advisory_lock(hashtext(%s))", (key,)
        )
        row = await cur.fetchone()
        if not (row and row[0]):
            raise RebuildInProgress(f"projection {projection.name} is already being rebuilt")
        try:
            log.info("projection_rebuild_started", projection=projection.name)
            async with pool.connection() as conn, conn.transaction():
                await _drop(conn, live_tables(projection, REBUILD_SUFFIX))
                await _drop(conn, live_tables(projection, OLD_SUFFIX))
                await clear_quarantine(conn, projection.name + STAGED_SUFFIX)
                await create_tables(conn, projection, fresh)
            position, replayed = await _replay(pool, projection, fresh, progress, batch_size)
            for attempt in range(1, swap_attempts + 1):
                try:
                    position = await _swap(pool, projection, position)
                    break
                except psycopg.errors.LockNotAvailable:
                    log.warning("projection_rebuild_swap_waiting", projection=projection.name,
                                attempt=attempt)
                    if attempt == swap_attempts:
                        raise
            log.info("projection_rebuild_finished", projection=projection.name,
                     position=str(position), events=replayed)
            return position
        finally:
            await guard.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))


async def _replay(
    pool: AsyncConnectionPool[Any], projection: Projection, tables: Tables, progress: bool,
    batch_size: int,
) -> tuple[Position, int]:
    """Apply every event the projection reads, from the start, into ``tables``."""
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT count(*) FROM eventlog.events WHERE category = ANY(%s)",
            (list(projection.categories),),
        )
        row = await cur.fetchone()
    bar = ProgressBar(int(row[0]) if row else 0, f"rebuilding {projection.name}",
                      sys.stderr if progress else None)
    position, done, next_log = START, 0, time.monotonic() + 5
    failures: dict[str, tuple[int, datetime]] = {}  # event id -> attempts, first failed at
    while True:
        async with pool.connection() as conn:
            events = await read_all(conn, position, batch_size, projection.categories)
            if not events:
                break
            async with conn.transaction():
                reached = await _apply_staged(conn, projection, tables, events, position,
                                              _retrying(failures))
        done += sum(e.position <= reached for e in events)
        position = reached
        bar.update(done)
        if time.monotonic() >= next_log:
            next_log = time.monotonic() + 5
            log.info("projection_rebuild_progress", projection=projection.name, events=done,
                     total=bar.total, position=str(position))
        if len(events) < batch_size and reached == events[-1].position:
            break
    bar.finish(done)
    return position, done


def _retrying(failures: dict[str, tuple[int, datetime]]) -> Verdict:
    """Quarantine an event at its ``QUARANTINE_AFTER``-th failure (each a new transaction)."""
    def verdict(event: RecordedEvent, error: Exception) -> tuple[int, datetime] | None:
        attempts, first = failures.get(str(event.event_id), (0, datetime.now(UTC)))
        failures[str(event.event_id)] = (attempts + 1, first)
        if attempts + 1 < QUARANTINE_AFTER:
            log.warning("projection_rebuild_event_failed", event_id=str(event.event_id),
                        position=str(event.position), error=describe(error),
                        attempts=attempts + 1)
            return None
        return attempts + 1, first
    return verdict


async def _apply_staged(
    conn: psycopg.AsyncConnection[Any], projection: Projection, tables: Tables,
    events: list[RecordedEvent], start: Position, verdict: Verdict,
) -> Position:
    """Apply ``events`` to the fresh tables, staging what must be quarantined; position reached.

    Raises the error when the projection stopped for a reason that is not the event's own
    (a projection-wide fault): the rebuild cannot produce a complete read model.
    """
    staged = projection.name + STAGED_SUFFIX
    frozen = await frozen_streams(conn, [staged], {e.stream_id for e in events})
    outcome = await apply_isolated(conn, projection, tables, events, start,
                                   frozen.get(staged, {}), verdict)
    await record_quarantined(conn, staged, outcome.quarantined)
    log_quarantined(projection.name, outcome.quarantined)
    if outcome.failure is not None and outcome.failure.kind is not Fault.EVENT:
        raise outcome.failure.error
    return outcome.position


async def _swap(
    pool: AsyncConnectionPool[Any], projection: Projection, replayed: Position
) -> Position:
    """Catch up the fresh tables and put them in place of the live ones, atomically."""
    live = live_tables(projection)
    fresh = live_tables(projection, REBUILD_SUFFIX)
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL lock_timeout = '10s'")
        await lock_projection(conn, projection.name)
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT tx_id::text::bigint, global_position FROM readmodel.projection_checkpoints"
            " WHERE name = %s FOR UPDATE",
            (projection.name,),
        )
        row = await cur.fetchone()
        live_position = Position(int(row[0]), int(row[1])) if row else START
        target = max(await head_position(conn), live_position)
        position = replayed
        while position < target:
            events = await read_all(conn, position, 1000, projection.categories)
            wanted = [e for e in events if e.position <= target]
            if not wanted:
                break
            # Locks are held: an event that fails here is quarantined at its first failure.
            position = await _apply_staged(conn, projection, fresh, wanted, position,
                                           quarantine_at_once)
            if len(wanted) < 1000:
                break
        present = await existing_tables(conn, live)
        if present:
            await conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(
                sql.SQL(", ").join(live[base] for base in sorted(present))))
        for base in sorted(present):
            await _rename(conn, live[base], base + OLD_SUFFIX)
        for base, ident in fresh.items():
            await _rename(conn, ident, base)
        await _drop(conn, live_tables(projection, OLD_SUFFIX))
        for base, ident in live.items():
            await _tidy_index_names(conn, ident, base + REBUILD_SUFFIX, base)
        await grant_reader(conn, live.values())
        await replace_quarantine(conn, projection.name, projection.name + STAGED_SUFFIX)
        await conn.execute(
            "INSERT INTO readmodel.projection_checkpoints AS c (name, tx_id, global_position)"
            " VALUES (%s, %s::text::xid8, %s) ON CONFLICT (name) DO UPDATE SET"
            " tx_id = excluded.tx_id, global_position = excluded.global_position,"
            " stream_seq = 0, generation = c.generation + 1, updated_at = now()",
            (projection.name, target.tx_id, target.global_position),
        )
        await notify_projections(conn, [projection.name])
    return target


async def _rename(conn: psycopg.AsyncConnection[Any], table: sql.Identifier, to: str) -> None:
    await conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, sql.Identifier(to)))


async def _drop(conn: psycopg.AsyncConnection[Any], tables: Tables) -> None:
    for ident in tables.values():
        await conn.execute(sql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(ident))


async def _tidy_index_names(
    conn: psycopg.AsyncConnection[Any], table: sql.Identifier, prefix: str, base: str
) -> None:
    """Give the swapped-in table's auto-named indexes the names a fresh create would give."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " WHERE i.indrelid = to_regclass(%s)", (table.as_string(conn),),
    )
    for (name,) in await cur.fetchall():
        if not name.startswith(prefix):
            continue
        wanted = base + name[len(prefix):]
        taken = await conn.execute(
            "SELECT 1 FROM pg_class"
            " WHERE relname = %s AND relnamespace = 'readmodel'::regnamespace",
            (wanted,),
        )
        if await taken.fetchone() is None:
            await conn.execute(sql.SQL("ALTER INDEX {} RENAME TO {}").format(
                sql.Identifier("readmodel", name), sql.Identifier(wanted)))


class ProgressBar:
    """A one-line text progress bar (nothing is written when ``stream`` is None)."""

    def __init__(self, total: int, label: str, stream: TextIO | None, width: int = 30) -> None:
        self.total = total
        self._label = label
        self._stream = stream
        self._width = width
        self._started = time.monotonic()
        self._last_draw = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._stream is None or (not force and now - self._last_draw < 0.1):
            return
        self._last_draw = now
        total = max(self.total, done, 1)
        filled = int(self._width * done / total)
        rate = done / max(now - self._started, 1e-6)
        self._stream.write(
            f"\r{self._label} [{'#' * filled}{'.' * (self._width - filled)}]"
            f" {100 * done // total:3d}% {done}/{max(self.total, done)} events {rate:,.0f}/s"
        )
        self._stream.flush()

    def finish(self, done: int) -> None:
        self.update(done, force=True)
        if self._stream is not None:
            self._stream.write("\n")
            self._stream.flush()
