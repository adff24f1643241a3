"""The projection runner: keeps every read model of a process up to date with the log.

One runner per process serves all of its projections from one NATS subscription; each projection
keeps its own checkpoint. A batch (from NATS or from the Postgres log) is written in one
transaction that first locks the projections' checkpoint rows, so the database, not memory,
decides what is new. Per projection an event is applied only if it comes right after the
checkpoint (its previous position equals the checkpoint); an older one is a duplicate and is
skipped; anything else is a gap, filled by catching up from Postgres. NATS messages are
acknowledged only after the commit. An event a projection cannot apply stops only that
projection, for a few retries, then goes to its quarantine with the rest of its stream
(``projections.isolation``). The design is described in docs/projections.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from events.store import Position, RecordedEvent, read_all
from kernel.metrics import Metrics
from kernel.settings import Settings
from projections.base import Projection, live_tables
from projections.faults import Fault, classify, describe
from projections.feed import NatsFeed
from projections.isolation import QUARANTINE_AFTER, Failure, Verdict, apply_isolated
from projections.listener import ChannelListener
from projections.quarantine import (
    Quarantined,
    frozen_streams,
    log_quarantined,
    record_quarantined,
)
from projections.status import projection_status
from projections.storage import (
    EVENTS_CHANNEL,
    Item,
    chain,
    ensure_projection,
    min_position,
    next_events,
    notify_projections,
    read_checkpoints,
    save_checkpoint,
)

log = structlog.get_logger(__name__)

# Called after a batch committed and before its messages are acknowledged ("nats"/"postgres").
AfterCommit = Callable[[str], Awaitable[None]]

# Errors of the database as a whole (outage, restart): back off and retry everything. Which
# errors of a projection's own writes count as such is decided by ``projections.faults``.
DATABASE_TROUBLE: tuple[type[Exception], ...] = (psycopg.Error, PoolTimeout, OSError)

# Between the attempts at an event that fails on its own (``QUARANTINE_AFTER`` of them before
# it is quarantined): seconds times the attempts so far, so the projection stalls ~1.5 s.
EVENT_RETRY_DELAY = 0.5


# This many messages in a row for events applied already (read from Postgres while the relay
# was behind) mean the feed trails the runner: pause it as when it is stale.
SKIPPED_PAUSE = 100


@dataclass
class _Fault:
    attempts: int
    retry_at: float
    event_id: uuid.UUID | None = None  # the event that failed (an event fault), if known
    first_failed_at: datetime | None = None


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
        quarantine_after: int = QUARANTINE_AFTER,
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
        self._quarantine_after = max(quarantine_after, 1)
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
            if gaps or batch.undecodable or batch.references:
                self._catch_up_needed = True  # what the feed could not carry is in Postgres
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
                if classify(exc) is Fault.TRANSIENT:
                    raise
                self._fault(name, Failure(None, exc, Fault.PROJECTION))
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
        """Apply a batch to every active projection in one transaction; names that saw a gap.

        Each share goes through ``apply_isolated``: an event a projection cannot apply is
        retried, then quarantined in this transaction, with the checkpoint moving past it.
        """
        names = self._active()
        last = items[-1][0].position
        if all(n in self._checkpoints and self._checkpoints[n] >= last for n in names):
            return set()  # nothing new for anyone (redelivery, duplicates)
        gaps: set[str] = set()
        advanced: dict[str, tuple[Position, int]] = {}
        failed: dict[str, Failure] = {}
        quarantined: dict[str, list[Quarantined]] = {}
        async with self._pool.connection(timeout=10) as conn, conn.transaction():
            checkpoints = await read_checkpoints(conn, names, lock=True)
            self._checkpoints.update(checkpoints)
            work: dict[str, list[RecordedEvent]] = {}
            for name in names:
                if name not in checkpoints:  # row deleted: create it again
                    self._ensured.discard(name)
                    continue
                todo, _, gap = next_events(items, checkpoints[name])
                if gap:
                    gaps.add(name)
                if todo:
                    work[name] = todo
            frozen = await frozen_streams(
                conn, list(work), {e.stream_id for todo in work.values() for e in todo})
            for name, todo in work.items():
                start = checkpoints[name]
                outcome = await apply_isolated(
                    conn, self._projections[name], self._tables[name], todo, start,
                    frozen.get(name, {}), self._verdict(name))
                await record_quarantined(conn, name, outcome.quarantined)
                if outcome.position != start:
                    await save_checkpoint(conn, name, outcome.position)
                    advanced[name] = (outcome.position, outcome.applied)
                if outcome.quarantined:
                    quarantined[name] = outcome.quarantined
                if outcome.failure is not None:
                    failed[name] = outcome.failure
            await notify_projections(conn, advanced)
        for name, (position, applied) in advanced.items():
            self._checkpoints[name] = position
            self._metrics.projection_events_applied_total[name] += applied
            if name not in failed:
                self._faults.pop(name, None)
        for name, rows in quarantined.items():
            log_quarantined(name, rows)
            self._metrics.projection_events_quarantined_total[name] += len(rows)
            gauge = self._metrics.projection_quarantined_events
            gauge[name] = gauge.get(name, 0) + len(rows)
        for name, failure in failed.items():
            self._fault(name, failure)
        if self._after_commit is not None:
            await self._after_commit(source)
        return gaps

    def _verdict(self, name: str) -> Verdict:
        """Quarantine an event once it has failed ``quarantine_after`` times in a row."""
        def verdict(event: RecordedEvent, _error: Exception) -> tuple[int, datetime] | None:
            attempts, first = self._attempt(name, event)
            return (attempts, first) if attempts >= self._quarantine_after else None
        return verdict

    def _attempt(self, name: str, event: RecordedEvent) -> tuple[int, datetime]:
        """Which attempt at ``event`` this is for projection ``name``, and when it first failed."""
        fault = self._faults.get(name)
        if fault is not None and fault.event_id == event.event_id and fault.first_failed_at:
            return fault.attempts + 1, fault.first_failed_at
        return 1, datetime.now(UTC)

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

    def _fault(self, name: str, failure: Failure) -> None:
        """Pause a projection that stopped before an event (or could not start) and say why.

        An event fault is retried soon and counted per event (quarantined at the
        ``quarantine_after``-th failure); a projection-wide one backs off from 2 s to 60 s.
        """
        previous, event, exc = self._faults.get(name), failure.event, failure.error
        self._metrics.projection_failures_total[name] += 1
        if failure.kind is Fault.EVENT and event is not None:
            attempts, first = self._attempt(name, event)
            delay = EVENT_RETRY_DELAY * attempts
            self._faults[name] = _Fault(attempts, time.monotonic() + delay, event.event_id, first)
            log.warning("projection_event_failed", projection=name, position=str(event.position),
                        event_id=str(event.event_id), stream=event.stream_id, type=event.type,
                        error=describe(exc), attempts=attempts, retry_in=delay,
                        quarantined_after=self._quarantine_after)
            return
        attempts = previous.attempts + 1 if previous else 1
        delay = min(2.0 ** attempts, 60.0)
        self._faults[name] = _Fault(attempts, time.monotonic() + delay)
        if isinstance(exc, psycopg.errors.UndefinedTable):
            self._ensured.discard(name)  # its tables were dropped: create them afresh
        log.error("projection_failed", projection=name,
                  position=str(event.position) if event else None,
                  error=describe(exc), attempts=attempts, retry_in=delay)

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
                self._metrics.projection_quarantined_events[row.name] = row.quarantined


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
