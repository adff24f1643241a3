"""Sending rate limits on a fake clock: even spacing, bursts, FIFO turns, cancelled waiters,
the exact sliding window, limits from listmonk's settings, and Go durations."""

from __future__ import annotations

import asyncio
import heapq

import msgspec
import pytest

from events.settings import AppSettings
from services.sender.messengers.durations import duration_or, go_duration_seconds
from services.sender.messengers.ratelimit import (
    UNLIMITED,
    AllOf,
    Limiter,
    RateLimiter,
    SlidingWindowLimiter,
    limiter_for_rate,
    sliding_window_from_settings,
    worker_limiter,
)


class SkippingClock:
    """A clock whose ``sleep`` moves time forward at once: sequential waits cost nothing."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += seconds
        await asyncio.sleep(0)


class ManualClock:
    """A clock that moves only when the test calls ``advance``."""

    def __init__(self) -> None:
        self.t = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._count = 0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, self._count, future))
        self._count += 1
        await future

    async def advance(self, seconds: float) -> None:
        target = self.t + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            self.t = max(self.t, when)
            if not future.done():
                future.set_result(None)
            await settle()
        self.t = target
        await settle()


async def settle() -> None:
    """Let every task that can run do so (no time passes on the fake clocks)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def times_of(limiter: Limiter, clock: SkippingClock, count: int) -> list[float]:
    out = []
    for _ in range(count):
        await limiter.acquire()
        out.append(round(clock.now(), 6))
    return out


async def test_a_rate_spaces_messages_evenly() -> None:
    clock = SkippingClock()
    assert await times_of(RateLimiter(10, clock=clock), clock, 5) == [0, 0.1, 0.2, 0.3, 0.4]


async def test_a_burst_goes_at_once_then_the_rate_holds() -> None:
    clock = SkippingClock()
    limiter = RateLimiter(2, burst=3, clock=clock)
    assert await times_of(limiter, clock, 5) == [0, 0, 0, 0.5, 1.0]


async def test_idle_time_banks_no_more_than_the_burst() -> None:
    clock = SkippingClock()
    limiter = RateLimiter(1, burst=2, clock=clock)
    assert await times_of(limiter, clock, 2) == [0, 0]
    clock.t = 100.0
    assert await times_of(limiter, clock, 3) == [100, 100, 101]


async def test_concurrent_senders_take_turns_in_order() -> None:
    clock = SkippingClock()
    limiter = RateLimiter(10, clock=clock)
    seen: list[tuple[int, float]] = []

    async def sender(i: int) -> None:
        await limiter.acquire()
        seen.append((i, round(clock.now(), 6)))

    await asyncio.gather(*(sender(i) for i in range(5)))
    assert seen == [(0, 0), (1, 0.1), (2, 0.2), (3, 0.3), (4, 0.4)]


async def test_a_cancelled_waiter_gives_its_turn_back() -> None:
    clock = ManualClock()
    limiter = RateLimiter(1, clock=clock)
    await limiter.acquire()  # t=0
    cancelled = asyncio.create_task(limiter.acquire())
    next_one = asyncio.create_task(limiter.acquire())
    await settle()
    cancelled.cancel()
    await settle()
    assert not next_one.done()
    await clock.advance(1.0)

    assert next_one.done() and clock.now() == 1.0
    later = asyncio.create_task(limiter.acquire())
    await clock.advance(0.5)
    assert not later.done()
    await clock.advance(0.5)
    assert later.done()


async def test_the_sliding_window_allows_the_limit_per_window() -> None:
    clock = SkippingClock()
    window = SlidingWindowLimiter(3, 10.0, clock=clock)
    assert await times_of(window, clock, 7) == [0, 0, 0, 10, 10, 10, 20]


async def test_the_sliding_window_slides_instead_of_resetting() -> None:
    clock = SkippingClock()
    window = SlidingWindowLimiter(3, 10.0, clock=clock)
    for t in (0.0, 4.0, 8.0):
        clock.t = t
        await window.acquire()
    # A fixed window reset at t=10 would let three more through at once; any 10 s here
    # holds at most three.
    assert await times_of(window, clock, 3) == [10, 14, 18]


async def test_all_of_counts_a_message_against_each_limit() -> None:
    clock = SkippingClock()
    limiter = AllOf(RateLimiter(10, clock=clock), SlidingWindowLimiter(2, 5.0, clock=clock))
    assert await times_of(limiter, clock, 4) == [0, 0.1, 5.0, 5.1]


def test_a_rate_of_zero_means_no_limit() -> None:
    assert limiter_for_rate(0) is UNLIMITED
    assert limiter_for_rate(-1) is UNLIMITED
    assert isinstance(limiter_for_rate(5), RateLimiter)
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, 10)


def test_limits_from_listmonks_settings() -> None:
    defaults = AppSettings()
    assert sliding_window_from_settings(defaults) is UNLIMITED  # off by default
    on = msgspec.structs.replace(defaults, app_message_sliding_window=True)
    window = sliding_window_from_settings(on)
    assert isinstance(window, SlidingWindowLimiter)
    assert (window.limit, window.window) == (10000, 3600.0)
    short = msgspec.structs.replace(on, app_message_sliding_window_duration="1s")
    assert sliding_window_from_settings(short) is UNLIMITED  # listmonk needs more than 1s
    no_rate = msgspec.structs.replace(on, app_message_sliding_window_rate=0)
    assert sliding_window_from_settings(no_rate) is UNLIMITED
    worker = worker_limiter(defaults)
    assert isinstance(worker, RateLimiter) and worker.rate == 10
    slowest = worker_limiter(msgspec.structs.replace(defaults, app_message_rate=0))
    assert isinstance(slowest, RateLimiter) and slowest.rate == 1


@pytest.mark.parametrize("text, seconds", [
    ("15s", 15.0), ("10ms", 0.01), ("1h30m", 5400.0), ("1.5s", 1.5), ("0", 0.0),
    ("2h45m30.5s", 9930.5), ("500us", 0.0005), ("-1m", -60.0), (" 5s ", 5.0)])
def test_go_durations(text: str, seconds: float) -> None:
    assert go_duration_seconds(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "15", "s", "1x", "1h 30m", "--1s", "1.s.5"])
def test_invalid_go_durations(text: str) -> None:
    with pytest.raises(ValueError):
        go_duration_seconds(text)
    assert duration_or(text, 7.0) == 7.0
