"""The tracking recorder of a query API process: hits in memory, events appended in batches.

``GET /link/...`` and the view pixel reach the query API, whose read pool cannot write. The
recorder appends through the process's writer pool (``Runtime.pool``, which every process
opens): a route calls ``view``/``click`` (memory only, no I/O) and answers at once; a
background task flushes every ``flush_seconds`` (sooner once ``max_batch`` keys wait). A flush
resolves the batch's campaign and subscriber uuids to ids with one query each, then appends
one event per due key (``events/tracking.py``) in one transaction, on a stream of its own
(``tracking-<uuid>``), so recorders of several processes never conflict. A failed append keeps
its counts for the next flush; ``close`` flushes everything still held, open dedupe windows
included. Dedupe: ``services/tracking/buffer.py``; the whole design: docs/tracking.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.base import Event, EventMetadata
from events.store import NO_STREAM, StreamAppend, append
from events.tracking import CampaignViewed, LinkClicked
from services.tracking.buffer import Due, HitBuffer, HitKey

log = structlog.get_logger(__name__)

DUMMY_UUID = "00000000-0000-0000-0000-000000000000"
WINDOW_SECONDS = 60.0
FLUSH_SECONDS = 0.25
MAX_BATCH = 1000
_METADATA = EventMetadata(actor="system:tracking")
_NEGATIVE_SECONDS = 5.0  # an unknown link uuid is asked again after this long


class _Lru(OrderedDict[str, Any]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class TrackingRecorder:
    """Records views and clicks for one process (see the module doc)."""

    def __init__(self, pool: AsyncConnectionPool[Any], read_pool: AsyncConnectionPool[Any],
                 *, window_seconds: float = WINDOW_SECONDS,
                 flush_seconds: float = FLUSH_SECONDS, max_batch: int = MAX_BATCH,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pool = pool
        self._read_pool = read_pool
        self._buffer = HitBuffer(window_seconds=window_seconds)
        self._flush_seconds = flush_seconds
        self._max_batch = max_batch
        self._clock = clock
        self._links: _Lru = _Lru(20_000)
        self._unknown_links: _Lru = _Lru(20_000)
        self._campaigns: _Lru = _Lru(10_000)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._flush_lock = asyncio.Lock()
        self.events_appended = 0
        self.appends = 0

    # --- the hot path: memory only ------------------------------------------------------------

    def view(self, campaign_uuid: str, subscriber_uuid: str | None) -> None:
        self._hit(HitKey("view", campaign_uuid.lower(), _sub(subscriber_uuid)))

    def click(self, link_id: int, campaign_uuid: str, subscriber_uuid: str | None) -> None:
        self._hit(HitKey("click", campaign_uuid.lower(), _sub(subscriber_uuid), link_id))

    def _hit(self, key: HitKey) -> None:
        self._ensure_flushing()
        self._buffer.hit(key, self._clock(), datetime.now(UTC))
        if self._buffer.pending >= self._max_batch:
            self._wake.set()

    async def link(self, link_uuid: str) -> tuple[int, str] | None:
        """The registered link ``(id, url)`` of a uuid (cached), or None."""
        key = link_uuid.lower()
        found = self._links.get(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        missed = self._unknown_links.get(key)
        if missed is not None and self._clock() - missed < _NEGATIVE_SECONDS:
            return None
        async with self._read_pool.connection() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(
                "SELECT id, url FROM readmodel.links WHERE uuid = %s", (key,))
            row = await cur.fetchone()
        if row is None:
            self._unknown_links.put(key, self._clock())
            return None
        self._unknown_links.pop(key, None)
        self._links.put(key, (int(row[0]), str(row[1])))
        return int(row[0]), str(row[1])

    # --- the background flush -----------------------------------------------------------------

    def _ensure_flushing(self) -> None:
        """Start the flush loop on the loop that serves the requests (the first hit's), where
        the pools live: an app's lifespan may run on another loop (test clients do)."""
        if self._task is None or self._task.done():
            self._loop = asyncio.get_running_loop()
            self._task = self._loop.create_task(self._run(), name="tracking-recorder")

    async def close(self) -> None:
        """Stop the flush loop and append everything still held (open windows included)."""
        task, loop = self._task, self._loop
        if task is None or loop is None:
            return  # never hit: nothing held
        if loop is asyncio.get_running_loop():
            await self._shutdown(task)
        elif not loop.is_closed():
            # The requests' loop may be waiting for this one to end (a test client's lifespan
            # thread): hand it the shutdown without waiting for it.
            asyncio.run_coroutine_threadsafe(self._shutdown(task), loop)

    async def _shutdown(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self._task = None
        try:
            while await self.flush(final=True):
                pass
        except (psycopg.Error, OSError) as exc:
            log.warning("tracking_final_flush_failed", error=str(exc),
                        held=self._buffer.pending)

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            try:
                while await self.flush() >= self._max_batch:
                    pass
            except (psycopg.Error, OSError) as exc:
                log.warning("tracking_flush_failed", error=str(exc))
                await asyncio.sleep(self._flush_seconds)

    async def flush(self, final: bool = False) -> int:
        """Append what is due (everything held with ``final``); returns the keys taken."""
        async with self._flush_lock:
            items = self._buffer.drain(self._clock(), self._max_batch, final=final)
            if not items:
                return 0
            try:
                events = await self._events(items)
                if events:
                    async with self._pool.connection() as conn:
                        await append(conn, [StreamAppend(f"tracking-{uuid.uuid4()}",
                                                         NO_STREAM, events)], _METADATA)
                    self.events_appended += len(events)
                    self.appends += 1
            except BaseException:
                self._buffer.restore(items)
                raise
            return len(items)

    async def _events(self, items: Sequence[Due]) -> list[Event]:
        campaigns = await self._campaign_ids({i.key.campaign_uuid for i in items})
        subscribers = await self._subscriber_ids(
            {i.key.subscriber_uuid for i in items if i.key.subscriber_uuid})
        events: list[Event] = []
        for item in items:
            key = item.key
            campaign_id = campaigns.get(key.campaign_uuid)
            if campaign_id is None:
                continue  # an unknown (or deleted) campaign: nothing to count it under
            subscriber_id = subscribers.get(key.subscriber_uuid) if key.subscriber_uuid else None
            if key.kind == "view":
                events.append(CampaignViewed(campaign_id=campaign_id,
                                             subscriber_id=subscriber_id, count=item.count,
                                             at=item.at))
            else:
                events.append(LinkClicked(campaign_id=campaign_id, link_id=key.link_id,
                                          subscriber_id=subscriber_id, count=item.count,
                                          at=item.at))
        return events

    async def _campaign_ids(self, uuids: set[str]) -> dict[str, int]:
        found = {u: self._campaigns[u] for u in uuids if u in self._campaigns}
        missing = [u for u in uuids if u not in found and _is_uuid(u)]
        if missing:
            rows = await self._lookup("SELECT uuid::text, id FROM readmodel.campaigns"
                                      " WHERE uuid = ANY(%s::uuid[])", missing)
            for u, campaign_id in rows:
                self._campaigns.put(u, campaign_id)
                found[u] = campaign_id
        return found

    async def _subscriber_ids(self, uuids: set[str | None]) -> dict[str | None, int]:
        wanted = [u for u in uuids if u and _is_uuid(u)]
        if not wanted:
            return {}
        rows = await self._lookup("SELECT uuid::text, id FROM readmodel.subscribers"
                                  " WHERE uuid = ANY(%s::uuid[])", wanted)
        return dict(rows)

    async def _lookup(self, query: str, values: list[str]) -> list[tuple[str, int]]:
        async with self._read_pool.connection() as conn:
            cur = await conn.cursor(row_factory=tuple_row).execute(query, (values,))
            return [(str(r[0]), int(r[1])) for r in await cur.fetchall()]

    def stats(self) -> dict[str, int]:
        return {"hits": self._buffer.hits, "events": self.events_appended,
                "appends": self.appends, "pending": self._buffer.pending}


def _sub(subscriber_uuid: str | None) -> str | None:
    if not subscriber_uuid or subscriber_uuid == DUMMY_UUID:
        return None
    return subscriber_uuid.lower()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
