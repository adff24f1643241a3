"""A pool of reusable sessions to one server, whatever speaks on them.

An SMTP server's pool (``services.sender.messengers.smtp``) holds aiosmtplib sessions today;
the wire-speed issue's pipelined client can take their place, since the pool knows sessions
only through ``Poolable`` and opens them with the function it is given. The pool keeps
listmonk's (smtppool's) limits:

- ``max_conns``: at most that many sessions exist at once, busy or opening; a caller past it
  waits for one to come back,
- ``wait_timeout``: how long it waits before giving up with ``PoolTimeout``,
- ``idle_timeout``: a session unused that long is closed (with ``QUIT``) by a sweeper; 0
  keeps idle sessions until the pool closes.

Idle sessions are reused last-in first-out, so under light load a few stay warm and the rest
age out. A session the caller marks ``discard`` (its connection was lost or its state is
unknown), or that is no longer usable, is dropped instead of returned. ``close()`` refuses new
leases, waits for the leased sessions to come back (nothing in flight is cut), then quits the
idle ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import structlog

log = structlog.get_logger(__name__)

QUIT_TIMEOUT = 5.0


class Poolable(Protocol):
    """What a pool needs of a session."""

    def is_usable(self) -> bool:
        """Whether the session can carry another message (connected, in a clean state)."""
        ...

    async def quit(self) -> None:
        """End the session politely (``QUIT``), never raising."""
        ...

    def abort(self) -> None:
        """Drop the connection at once."""
        ...


S = TypeVar("S", bound=Poolable)


class PoolClosed(RuntimeError):
    """The pool was closed: no new sessions are leased."""


class PoolTimeout(Exception):
    """No session became free within ``wait_timeout``."""


@dataclass
class Lease(Generic[S]):
    """A session lent to one caller. ``reused``: it carried messages before (so a failure on
    its first command may only mean the server dropped it while idle). Set ``discard`` when
    the session must not be reused."""

    session: S
    reused: bool
    discard: bool = False


class SessionPool(Generic[S]):
    """At most ``max_conns`` sessions to one server, opened with ``connect`` on demand."""

    def __init__(self, connect: Callable[[], Awaitable[S]], *, max_conns: int,
                 wait_timeout: float, idle_timeout: float, label: str = "",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_conns < 1:
            raise ValueError(f"max_conns must be at least 1, not {max_conns}")
        self.max_conns = max_conns
        self.wait_timeout = wait_timeout
        self.idle_timeout = idle_timeout
        self.label = label
        self._connect = connect
        self._clock = clock
        self._slots = asyncio.Semaphore(max_conns)
        self._idle: list[tuple[S, float]] = []  # (session, idle since), most recent last
        self._leased = 0
        self._none_leased = asyncio.Event()
        self._none_leased.set()
        self._sweeper: asyncio.Task[None] | None = None
        self._closed = False
        self.opened = 0  # sessions opened over the pool's life (tests and metrics)

    @property
    def leased(self) -> int:
        return self._leased

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def closed(self) -> bool:
        return self._closed

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[Lease[S]]:
        """A session for one message (or a few), returned to the pool on exit.

        Raises ``PoolTimeout`` when none is free in time, ``PoolClosed`` after ``close()``,
        and whatever ``connect`` raises when a new session cannot be opened."""
        if self._closed:
            raise PoolClosed(self.label)
        try:
            async with asyncio.timeout(self.wait_timeout if self.wait_timeout > 0 else None):
                await self._slots.acquire()
        except TimeoutError:
            raise PoolTimeout(f"no free connection to {self.label} within "
                              f"{self.wait_timeout:g}s ({self.max_conns} busy)") from None
        if self._closed:
            self._slots.release()
            raise PoolClosed(self.label)
        self._leased += 1
        self._none_leased.clear()
        lease: Lease[S] | None = None
        try:
            session = self._take_idle()
            if session is not None:
                lease = Lease(session, reused=True)
            else:
                lease = Lease(await self._connect(), reused=False)
                self.opened += 1
            yield lease
        except BaseException:
            if lease is not None:  # an error the caller did not handle: state unknown
                lease.discard = True
            raise
        finally:
            if lease is not None:
                self._give_back(lease)
            self._leased -= 1
            self._slots.release()
            if self._leased == 0:
                self._none_leased.set()

    def _take_idle(self) -> S | None:
        now = self._clock()
        while self._idle:
            session, since = self._idle.pop()
            if session.is_usable() and not self._expired(since, now):
                return session
            session.abort()
        return None

    def _expired(self, since: float, now: float) -> bool:
        return self.idle_timeout > 0 and now - since >= self.idle_timeout

    def _give_back(self, lease: Lease[S]) -> None:
        if lease.discard or not lease.session.is_usable():
            lease.session.abort()
            return
        self._idle.append((lease.session, self._clock()))
        if self.idle_timeout > 0 and not self._closed and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def _sweep(self) -> None:
        """Quit sessions idle longer than ``idle_timeout``; ends when none is idle."""
        interval = max(self.idle_timeout / 2, 0.01)
        try:
            while self._idle and not self._closed:
                await asyncio.sleep(interval)
                now = self._clock()
                expired = [s for s, since in self._idle if self._expired(since, now)]
                if expired:
                    self._idle = [(s, t) for s, t in self._idle if not self._expired(t, now)]
                    log.debug("pool_idle_closed", pool=self.label, count=len(expired))
                    await asyncio.gather(*(_quit(s) for s in expired))
        finally:
            self._sweeper = None

    async def close(self) -> None:
        """Refuse new leases, wait for the leased sessions, then quit the idle ones."""
        self._closed = True
        await self._none_leased.wait()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        idle, self._idle = self._idle, []
        await asyncio.gather(*(_quit(s) for s, _ in idle))


async def _quit(session: Poolable) -> None:
    try:
        async with asyncio.timeout(QUIT_TIMEOUT):
            await session.quit()
    except TimeoutError:
        pass
    finally:
        session.abort()
