"""The projection runner: keeps every read model of a process up to date with the log.

One runner per process serves all of its projections from one NATS subscription; each projection
keeps its own checkpoint. A batch (from NATS or from the Postgres log) is written in one
transaction that first locks the projections' checkpoint rows, so the database, not memory,
decides what is new. Per projection an event is applied only if it comes right after the
checkpoint (its previous position equals the checkpoint); an older one is a duplicate and is
skipped; anything else is a gap, filled by catching up from Postgres. NATS messages are
acknowledged only after the commit. The design is described in docs/projections.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from events.store import Position, RecordedEvent, read_all
from postlog.metrics import Metrics
from postlog.settings import Settings
from projections.base import Projection, live_tables
from projections.feed import NatsFeed
from projections.listener import ChannelListener
from projections.status import projection_status
from projections.storage import (
    EVENTS_CHANNEL,
    Item,
    ProjectionTablesIncomplete,
    batch_statements,
    chain,
    ensure_projection,
    min_position,
    next_events,
    notify_projections,
    read_checkpoints,
    run_statements,
    save_checkpoint,
)

log = structlog.get_logger(__name__)

# Called after a batch committed and before its messages are acknowledged ("nats"/"postgres").
AfterCommit = Callable[[str], Awaitable[None]]

# Errors that come from one projection's code or SQL; they stall that projection only.
PROJECTION_FAULTS: tuple[type[Exception], ...] = (
    psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError,
    psycopg.NotSupportedError, ProjectionTablesIncomplete,
)
# Errors of the database as a whole (outage, restart): back off and retry everything.
DATABASE_TROUBLE: tuple[type[Exception], ...] = (psycopg.Error, PoolTimeout, OSError)


# This many messages in a row for events applied already (read from Postgres while the relay
# was behind) mean the feed trails the runner: pause it as when it is stale.
SKIPPED_PAUSE = 100


@dataclass
class _Fault:
    attempts: int
    retry_at: float


class ProjectionRunner:
    """Applies the log to the given projections until ``stop`` is set; never dies on outages."""

    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool[Any],
        projections: Sequence[Projection],
        metrics: Metrics,
        *,
        batch_size: int = 1000,
        idle_catch_up: float = 1.0,
        notify_grace: float = 0.5,
        stale_after: float = 2.0,
        stale_pause: float = 5.0,
        after_commit: AfterCommit | None = None,
    ) -> None:
        self._pool = pool
        self._metrics = metrics
        self._projections = {p.name: p for p in projections}
        self._tables = {p.name: live_tables(p) for p in projections}
        self._batch_size = batch_size
        self._idle_catch_up = idle_catch_up
        self._notify_grace = notify_grace
        self._stale_after = stale_after
        self._stale_pause = stale_pause
        self._skipped_run = 0
        self._last_stale_check = 0.0
        self._after_commit = after_commit
        self._feed = NatsFeed(settings)
        self._listener = ChannelListener(
            pool.conninfo, EVENTS_CHANNEL, self._on_append, name="projector"
        )
        self._checkpoints: dict[str, Position] = {}
        self._ensured: set[str] = set()
        self._faults: dict[str, _Fault] = {}
        self._catch_up_needed = True
        self._last_pg_check = 0.0
        self._appended_at: float | None = None
        self._next_lag_refresh = 0.0
        self._woken = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        log.info("projection_runner_started", projections=sorted(self._projections))
        self._feed.start()
        self._listener.start()
        delay = 0.2
        try:
            while not stop.is_set():
                try:
                    await self._step(stop)
                    delay = 0.2
                except DATABASE_TROUBLE as exc:
                    log.warning("projection_runner_db_unavailable", error=str(exc),
                                retry_in=round(delay, 2))
                    self._catch_up_needed = True
                    await _sleep_until(stop, delay)
                    delay = min(delay * 2, 30.0) * random.uniform(0.8, 1.2)
                except Exception:
                    log.exception("projection_runner_error", retry_in=round(delay, 2))
                    self._catch_up_needed = True
                    await _sleep_until(stop, delay)
                    delay = min(delay * 2, 30.0) * random.uniform(0.8, 1.2)
        finally:
            await self._feed.close()
            await self._listener.close()
            log.info("projection_runner_stopped")

    async def _step(self, stop: asyncio.Event) -> None:
        await self._ensure_tables()
        if await self._feed.ensure_subscribed():
            self._catch_up_needed = True  # events published before the subscription
        if self._catch_up_needed or self._faults_due():
            self._catch_up_needed = False
            await self._catch_up(stop)
        await self._refresh_lag()
        if not self._feed.subscribed:
            # NATS is unavailable: follow the Postgres log, woken by NOTIFY postlog_events.
            self._appended_at = None
            await _sleep_until(stop, min(self._idle_catch_up, 1.0), self._woken)
            self._catch_up_needed = True
            return
        batch = await self._feed.next_batch(
            wait=0.25, limit=self._batch_size, applied_through=self._applied_through())
        now = time.monotonic()
        if batch.last is not None:
            self._last_pg_check = now
            self._appended_at = None
            gaps = await self._apply(batch.items, "nats") if batch.items else set()
            await self._feed.ack(batch)
            if gaps or batch.undecodable:
                self._catch_up_needed = True
            # Messages in a row for events already applied: the feed trails the runner.
            self._skipped_run = 0 if batch.items else self._skipped_run + batch.skipped
            if self._behind_the_log(batch.items, now) or self._skipped_run >= SKIPPED_PAUSE:
                self._skipped_run = 0
                self._catch_up_needed = True
                await self._feed.pause(self._stale_pause)
            return
        appended_unseen = self._appended_at is not None and now - self._appended_at > (
            self._notify_grace
        )
        quiet = now - self._last_pg_check >= self._idle_catch_up
        # Quiet feed: make sure Postgres has nothing newer (relay down, consumer lost).
        if (appended_unseen or quiet) and await self._catch_up(stop) and appended_unseen:
            await self._feed.check_alive()

    async def _ensure_tables(self) -> None:
        now = time.monotonic()
        for name, projection in self._projections.items():
            fault = self._faults.get(name)
            if name in self._ensured or (fault and fault.retry_at > now):
                continue
            try:
                async with self._pool.connection(timeout=10) as conn:
                    created = await ensure_projection(conn, projection, self._tables[name])
            except Exception as exc:
                if not _is_projection_fault(exc):
                    raise
                self._fault(name, exc, None)
                continue
            self._checkpoints.pop(name, None)  # fresh tables start again from the beginning
            self._ensured.add(name)
            self._catch_up_needed = True
            if created:
                log.info("projection_tables_created", projection=name)

    async def _catch_up(self, stop: asyncio.Event) -> int:
        """Apply the Postgres log until every active projection is at its head; events applied."""
        self._last_pg_check = time.monotonic()
        self._appended_at = None
        total, previous, next_log = 0, None, time.monotonic() + 5.0
        while not stop.is_set():
            names = self._active()
            if not names:
                break
            async with self._pool.connection(timeout=10) as conn:
                checkpoints = await read_checkpoints(conn, names)
                after = min_position(checkpoints)
                if after == previous:
                    break  # no progress (a projection just failed): retry later
                events = await read_all(conn, after, limit=self._batch_size)
            self._checkpoints.update(checkpoints)
            if not events:
                break
            previous = after
            await self._apply(chain(after, events), "postgres")
            total += len(events)
            if len(events) < self._batch_size:
                break
            if time.monotonic() >= next_log:
                next_log = time.monotonic() + 5.0
                log.info("projection_catching_up", position=str(events[-1].position),
                         events=total)
        if total:
            log.debug("projection_caught_up", events=total)
        return total

    async def _apply(self, items: Sequence[Item], source: str) -> set[str]:
        """Apply a batch to every active projection in one transaction; names that saw a gap."""
        names = self._active()
        last = items[-1][0].position
        if all(n in self._checkpoints and self._checkpoints[n] >= last for n in names):
            return set()  # nothing new for anyone (redelivery, duplicates)
        gaps: set[str] = set()
        advanced: dict[str, tuple[Position, int]] = {}
        failed: dict[str, tuple[Exception, Position]] = {}
        async with self._pool.connection(timeout=10) as conn, conn.transaction():
            checkpoints = await read_checkpoints(conn, names, lock=True)
            self._checkpoints.update(checkpoints)
            for name in names:
                if name not in checkpoints:  # row deleted: create it again
                    self._ensured.discard(name)
                    continue
                todo, _, gap = next_events(items, checkpoints[name])
                if gap:
                    gaps.add(name)
                if not todo:
                    continue
                reached, applied, failure = await self._write(conn, name, todo, checkpoints[name])
                if reached != checkpoints[name]:
                    advanced[name] = (reached, applied)
                if failure is not None:
                    failed[name] = failure
            await notify_projections(conn, advanced)
        for name, (position, applied) in advanced.items():
            self._checkpoints[name] = position
            self._metrics.projection_events_applied_total[name] += applied
            if name not in failed:
                self._faults.pop(name, None)
        for name, (error, at) in failed.items():
            self._fault(name, error, at)
        if self._after_commit is not None:
            await self._after_commit(source)
        return gaps

    async def _write(
        self, conn: psycopg.AsyncConnection[Any], name: str, events: list[RecordedEvent],
        start: Position,
    ) -> tuple[Position, int, tuple[Exception, Position] | None]:
        """One projection's share of a batch: position reached, events applied, failure if any.

        If the batch fails, its events are retried one by one, so the projection stops right
        before the event it cannot apply (and the log names that event).
        """
        projection = self._projections[name]
        try:
            return events[-1].position, await self._savepoint(conn, projection, events), None
        except Exception as exc:
            if not _is_projection_fault(exc):
                raise
            if len(events) == 1:
                return start, 0, (exc, events[0].position)
        position, applied = start, 0
        for event in events:
            try:
                applied += await self._savepoint(conn, projection, [event])
            except Exception as exc:
                if not _is_projection_fault(exc):
                    raise
                return position, applied, (exc, event.position)
            position = event.position
        return position, applied, None

    async def _savepoint(
        self, conn: psycopg.AsyncConnection[Any], projection: Projection,
        events: list[RecordedEvent],
    ) -> int:
        """Write events and the checkpoint in a savepoint, so a faulty projection fails alone."""
        async with conn.transaction():
            tables = self._tables[projection.name]
            await run_statements(conn, await batch_statements(conn, projection, tables, events))
            await save_checkpoint(conn, projection.name, events[-1].position)
        return sum(e.category in projection.categories for e in events)

    def _applied_through(self) -> Position | None:
        """The position every active projection has applied (None if one is unknown)."""
        names = self._active()
        if not names or any(n not in self._checkpoints for n in names):
            return None
        return min(self._checkpoints[n] for n in names)

    def _behind_the_log(self, items: Sequence[Item], now: float) -> bool:
        """True when the feed delivers events older than ``stale_after`` seconds.

        That happens when the relay (or this runner) is far behind, e.g. during a bulk import:
        reading the Postgres log directly is then much faster than waiting for the relay to
        publish every event, so the runner pauses the feed for ``stale_pause`` seconds and
        follows Postgres. Checked at most once a second; messages that arrive after a catch-up
        for events already applied are acknowledged without decoding (``next_batch``).
        """
        if not items or now - self._last_stale_check < 1.0:
            return False
        self._last_stale_check = now
        age = time.time() - items[-1][0].recorded_at.timestamp()
        return age > self._stale_after

    def _active(self) -> list[str]:
        now = time.monotonic()
        return [
            name for name in sorted(self._ensured)
            if name not in self._faults or self._faults[name].retry_at <= now
        ]

    def _faults_due(self) -> bool:
        now = time.monotonic()
        return any(f.retry_at <= now for f in self._faults.values())

    def _fault(self, name: str, exc: Exception, at: Position | None) -> None:
        previous = self._faults.get(name)
        attempts = previous.attempts + 1 if previous else 1
        delay = min(2.0 ** attempts, 60.0)
        self._faults[name] = _Fault(attempts, time.monotonic() + delay)
        if isinstance(exc, psycopg.errors.UndefinedTable):
            self._ensured.discard(name)  # its tables were dropped: create them afresh
        log.error("projection_failed", projection=name, position=str(at) if at else None,
                  error=repr(exc), attempts=attempts, retry_in=delay)

    async def _on_append(self, _payloads: list[str]) -> None:
        if self._appended_at is None:
            self._appended_at = time.monotonic()
        self._woken.set()

    async def _refresh_lag(self) -> None:
        """Update the lag gauges now and then (one cheap query per projection)."""
        now = time.monotonic()
        if now < self._next_lag_refresh:
            return
        self._next_lag_refresh = now + 5.0
        with contextlib.suppress(*DATABASE_TROUBLE):
            projections = list(self._projections.values())
            for row in await projection_status(self._pool, projections, count_limit=100_000):
                self._metrics.projection_lag_events[row.name] = row.lag_events
                self._metrics.projection_lag_seconds[row.name] = row.lag_seconds


def _is_projection_fault(exc: Exception) -> bool:
    """A fault of the projection itself (its SQL or its code), not of the database."""
    return isinstance(exc, PROJECTION_FAULTS) or not isinstance(exc, DATABASE_TROUBLE)


async def _sleep_until(
    stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None
) -> None:
    """Sleep up to ``seconds``; return early when ``stop`` (or ``wake``, then cleared) is set."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
        if wake is not None:
            wake.clear()
