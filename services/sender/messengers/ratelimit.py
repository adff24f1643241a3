"""Async rate limiters for sending: messages per second, and at most N messages per window.

The sender awaits a limiter's ``acquire()`` before each delivery attempt. Four kinds of limit
use them:

- per worker, listmonk's ``app.message_rate`` (each of ``app.concurrency`` workers sends at
  most that many messages a second): ``RateLimiter(settings.app_message_rate)`` per worker;
- listmonk's ``app.message_sliding_window`` (at most ``_rate`` messages in any
  ``_duration``): ``sliding_window_from_settings(settings)``, one shared by all workers;
- per SMTP server and per messenger (listmonk has none; its users ask for one to respect a
  provider's quota): a ``RateLimiter`` held by the server's pool or the messenger.

``RateLimiter`` spaces acquisitions evenly (the generic cell rate algorithm: a theoretical
arrival time moves on by ``1/rate`` per message, ``burst`` messages may go at once), so a
limit of 10/s gives one message every 100 ms rather than ten at once and a one-second pause
as listmonk does. ``SlidingWindowLimiter`` is exact over any window, not only over windows
that start where the previous one ended (listmonk's counter resets at the end of a fixed
window, which lets twice the rate through across the boundary). Callers queue in FIFO order;
one cancelled while waiting gives its turn back. Time comes from a ``Clock``, so tests run
them on a fake one.
"""

from __future__ import annotations

import asyncio
import math
import time
from array import array
from typing import Protocol

from events.settings import AppSettings
from services.sender.messengers.durations import duration_or


class Clock(Protocol):
    """Monotonic time in seconds, and a way to wait for it."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The event loop's real time."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = MonotonicClock()


class Limiter(Protocol):
    """Something a sender waits on before each message."""

    async def acquire(self) -> None: ...


class Unlimited:
    """No limit (a rate of 0, as in settings where the limit is off)."""

    async def acquire(self) -> None:
        return None


UNLIMITED = Unlimited()


class RateLimiter:
    """At most ``rate`` acquisitions per second on average and ``burst`` at once."""

    def __init__(self, rate: float, *, burst: int = 1, clock: Clock = SYSTEM_CLOCK) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError(f"rate must be a positive number of messages a second, not {rate}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate = float(rate)
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._tat = -math.inf  # the theoretical arrival time of the next message
        self._turn = asyncio.Lock()  # FIFO: waiters go in the order they came

    async def acquire(self) -> None:
        async with self._turn:
            now = self._clock.now()
            tat = max(self._tat, now)
            wait = tat - self._tolerance - now
            if wait > 0:
                await self._clock.sleep(wait)  # cancelled here: the slot stays free
            self._tat = tat + self._interval


class SlidingWindowLimiter:
    """At most ``limit`` acquisitions in any ``window`` seconds.

    Keeps the times of the last ``limit`` acquisitions in a ring (8 bytes each: 80 KB for
    listmonk's default 10,000 an hour); a new one waits until the oldest of them is
    ``window`` old."""

    def __init__(self, limit: int, window: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        if limit < 1:
            raise ValueError(f"the window's limit must be at least 1, not {limit}")
        if not window > 0:
            raise ValueError(f"the window must last a positive time, not {window}")
        self.limit = limit
        self.window = float(window)
        self._clock = clock
        self._times = array("d", [-math.inf]) * limit
        self._next = 0
        self._turn = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._turn:
            wait = self._times[self._next] + self.window - self._clock.now()
            if wait > 0:
                await self._clock.sleep(wait)
            self._times[self._next] = self._clock.now()
            self._next = (self._next + 1) % self.limit


class AllOf:
    """Every limiter in turn (a message counts against each): e.g. a worker's rate, then the
    shared sliding window."""

    def __init__(self, *limiters: Limiter) -> None:
        self.limiters = tuple(limiters)

    async def acquire(self) -> None:
        for limiter in self.limiters:
            await limiter.acquire()


def limiter_for_rate(rate: float, *, burst: int = 1, clock: Clock = SYSTEM_CLOCK) -> Limiter:
    """A ``RateLimiter`` for ``rate`` messages a second, ``UNLIMITED`` for 0 or less."""
    if rate <= 0:
        return UNLIMITED
    return RateLimiter(rate, burst=burst, clock=clock)


def worker_limiter(settings: AppSettings, *, clock: Clock = SYSTEM_CLOCK) -> Limiter:
    """One campaign worker's limit: listmonk's ``app.message_rate`` messages a second (listmonk
    treats a rate below 1 as 1)."""
    return RateLimiter(max(1, settings.app_message_rate), clock=clock)


def sliding_window_from_settings(settings: AppSettings, *,
                                 clock: Clock = SYSTEM_CLOCK) -> Limiter:
    """listmonk's sliding window when it is on and valid (a rate above 0 and a duration over
    one second, as listmonk requires), else ``UNLIMITED``."""
    window = duration_or(settings.app_message_sliding_window_duration, 0.0)
    rate = settings.app_message_sliding_window_rate
    if not settings.app_message_sliding_window or rate < 1 or window <= 1.0:
        return UNLIMITED
    return SlidingWindowLimiter(rate, window, clock=clock)
