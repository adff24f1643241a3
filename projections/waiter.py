"""Read-your-writes: wait until named projections have reached a log position (bounded).

One listening connection per process (``LISTEN postlog_projections``) keeps a cache of checkpoint
positions: the runner notifies after each commit, the listener re-reads the named checkpoints
once, and every waiter compares in memory. Waiters still poll the database now and then, so a
missed notification or a dead listener only costs latency, never correctness.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import structlog
from psycopg_pool import AsyncConnectionPool

from events.store import START, Position
from projections.listener import ChannelListener
from projections.storage import NOTIFY_CHANNEL, read_checkpoints

log = structlog.get_logger(__name__)

# How often a waiter re-reads checkpoints itself while the listener is healthy.
HEALTHY_POLL_SECONDS = 0.5


class ProjectionWaiter:
    """Waits for projection checkpoints to pass a position; shared by all requests of a process."""

    def __init__(self, pool: AsyncConnectionPool[Any], timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout
        self._positions: dict[str, Position] = {}
        self._changed = asyncio.Event()
        self._listener: ChannelListener | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def wait(self, position: Position | None, projections: Sequence[str], *,
                   extra_seconds: float = 0.0) -> bool:
        """True once every projection is at or past ``position``; False after the timeout
        (plus ``extra_seconds``, for a command that appended many events)."""
        if position is None or not projections:
            return True
        names = sorted(set(projections))
        self._bind_to_running_loop()
        self._start_listener()
        if self._reached(position, names):
            return True
        deadline = time.monotonic() + self._timeout + max(0.0, extra_seconds)
        await self._refresh(names)
        delay = 0.002
        while True:
            changed = self._changed
            if self._reached(position, names):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            healthy = self._listener is not None and self._listener.healthy
            pause = min(remaining, HEALTHY_POLL_SECONDS if healthy else delay)
            try:
                await asyncio.wait_for(changed.wait(), pause)
            except TimeoutError:
                await self._refresh(names)
                delay = min(delay * 2, 0.05)

    async def close(self) -> None:
        """Stop the listening connection (call once when the process shuts down)."""
        if self._listener is not None:
            await self._listener.close()
            self._listener = None

    def _bind_to_running_loop(self) -> None:
        """Tasks and events belong to one event loop; start afresh if used from another."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop = loop
            self._changed = asyncio.Event()
            self._listener = None

    def _reached(self, position: Position, names: Sequence[str]) -> bool:
        return all(self._positions.get(name, START) >= position for name in names)

    def _start_listener(self) -> None:
        if self._listener is None:
            self._listener = ChannelListener(
                self._pool.conninfo, NOTIFY_CHANNEL, self._on_notify,
                on_connect=self._on_connect, name="waiter",
            )
        self._listener.start()

    async def _on_notify(self, names: list[str]) -> None:
        await self._refresh(sorted(set(names)))

    async def _on_connect(self) -> None:
        # Notifications may have been missed while disconnected: re-read what we know of.
        if self._positions:
            await self._refresh(sorted(self._positions))

    async def _refresh(self, names: Sequence[str]) -> None:
        """Read the named checkpoints into the cache and wake the waiters."""
        try:
            async with self._pool.connection(timeout=5) as conn:
                found = await read_checkpoints(conn, names)
        except Exception as exc:  # database trouble: waiters keep polling until their timeout
            log.debug("projection_waiter_read_failed", error=str(exc))
            found = {}
        for name, pos in found.items():
            if pos > self._positions.get(name, START):
                self._positions[name] = pos
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
