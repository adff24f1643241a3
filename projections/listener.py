"""One LISTEN connection kept open on a Postgres channel, reconnecting with back-off.

NOTIFY is a wake-up, never the source of truth: whoever listens also polls, so a lost
notification (connection dropped, listener restarting) only costs latency. A dropped connection
(a terminated backend, a restart) is noticed at once, since the listener waits on its socket,
and replaced after a short pause; the pause grows only while reconnecting keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable, Callable

import psycopg
import structlog
from psycopg import sql

from kernel.db import connection_kwargs

log = structlog.get_logger(__name__)

# Back-off between reconnection attempts: the first comes quickly, failures double it.
RECONNECT_FIRST = 0.05
RECONNECT_MAX = 10.0

OnNotify = Callable[[list[str]], Awaitable[None]]
OnConnect = Callable[[], Awaitable[None]]
# What psycopg_pool accepts as conninfo (a pool's ``conninfo`` attribute).
ConnInfo = str | Callable[[], str] | Callable[[], Awaitable[str]]


class ChannelListener:
    """Calls ``on_notify(payloads)`` for each burst of notifications on ``channel``.

    ``on_connect`` runs after every (re)connection, so the owner can re-check what it may have
    missed while disconnected. ``healthy`` tells whether notifications are currently flowing.
    """

    def __init__(
        self,
        conninfo: ConnInfo,
        channel: str,
        on_notify: OnNotify,
        *,
        on_connect: OnConnect | None = None,
        name: str = "listener",
        idle_check: float = 10.0,
    ) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._on_notify = on_notify
        self._on_connect = on_connect
        self._name = name
        self._idle_check = idle_check
        self._task: asyncio.Task[None] | None = None
        self.healthy = False

    def start(self) -> None:
        """Start listening in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"listen-{self._channel}")

    async def close(self) -> None:
        task, self._task = self._task, None
        self.healthy = False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        delay = RECONNECT_FIRST
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.healthy:
                    # It worked until now (a terminated backend, a restart): reconnect at once
                    # and back off only while reconnecting fails.
                    delay = RECONNECT_FIRST
                    log.warning("listen_connection_lost", channel=self._channel, error=str(exc))
                else:
                    log.debug("listen_connect_failed", channel=self._channel, error=str(exc))
            self.healthy = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX)

    async def _listen(self) -> None:
        conninfo = self._conninfo if isinstance(self._conninfo, str) else self._conninfo()
        if inspect.isawaitable(conninfo):
            conninfo = await conninfo
        conn = await psycopg.AsyncConnection.connect(
            str(conninfo), connect_timeout=5, **connection_kwargs(self._name))
        async with conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self.healthy = True
            await self._call(self._on_connect)
            while True:
                payloads = [
                    n.payload
                    async for n in conn.notifies(timeout=self._idle_check, stop_after=1)
                ]
                if payloads:
                    await self._call(self._on_notify, payloads)
                else:
                    await conn.execute("SELECT 1")  # notice a dead connection while idle

    async def _call(self, fn: Callable[..., Awaitable[None]] | None, *args: object) -> None:
        if fn is None:
            return
        try:
            await fn(*args)
        except Exception as exc:  # the owner's problem must not take the listener down
            log.debug("listen_callback_failed", channel=self._channel, error=str(exc))
