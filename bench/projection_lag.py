"""Append-to-read-model lag of the lists projection under a steady append rate.

With `postlog up` running (relay + projector), this script appends ``list.created`` events
straight to the event store at a fixed rate (open loop: each append is due at ``i / rate``,
however long earlier ones took), one event per transaction, then sends ``NOTIFY postlog_events``
as the command executor does. A watcher connection reads the projection's row in
``readmodel.projection_checkpoints`` whenever ``postlog_projections`` is notified and at least
every ``--poll-ms``; an event's lag is the time from its commit returning to the watcher seeing
the checkpoint at or past its position.

References from the same run: the commit latency of the appends themselves, and the delivery
time of a bare NOTIFY to a LISTENing connection (the floor for any "commit seen by another
process" figure on this machine).

    .venv/bin/python bench/projection_lag.py [--rate 200] [--seconds 10] [--writers 4]
"""

from __future__ import annotations

import asyncio
import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.common import (
    base_parser,
    fresh_database,
    percentile,
    postlog_up,
    report,
    server_conditions,
)
from events.base import EventMetadata
from events.lists import ListCreated
from events.store import NO_STREAM, Position, StreamAppend, append

CHECKPOINT = ("SELECT tx_id::text::bigint, global_position FROM readmodel.projection_checkpoints"
              " WHERE name = %s")


class Watcher:
    """Follows one projection's checkpoint and timestamps when each awaited position is passed."""

    def __init__(self, url: str, projection: str, poll: float) -> None:
        self.url, self.projection, self.poll = url, projection, poll
        self.pending: dict[Position, float] = {}
        self.lags: list[float] = []
        self.loaded = False  # set when the load has ended: then an empty ``pending`` is final
        self.drained = asyncio.Event()
        self.stop = asyncio.Event()

    def expect(self, position: Position, committed_at: float) -> None:
        self.pending[position] = committed_at

    async def run(self) -> None:
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as conn:
            await conn.execute("LISTEN postlog_projections")
            while not self.stop.is_set():
                async for _ in conn.notifies(timeout=self.poll, stop_after=1):
                    pass
                row = await (await conn.execute(CHECKPOINT, (self.projection,))).fetchone()
                if row is None:
                    continue
                seen, now = Position(int(row[0]), int(row[1])), time.perf_counter()
                for position in [p for p in self.pending if p <= seen]:
                    self.lags.append(now - self.pending.pop(position))
                if self.loaded and not self.pending:
                    self.drained.set()


async def wait_for_projection(url: str, name: str, within: float = 30.0) -> None:
    """The projector registers its checkpoint row at start; fail clearly if ``name`` is absent."""
    deadline = time.monotonic() + within
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        while True:
            cur = await conn.execute("SELECT name FROM readmodel.projection_checkpoints")
            names = [str(r[0]) for r in await cur.fetchall()]
            if name in names:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"projection {name!r} not found; checkpoints: {names}")
            await asyncio.sleep(0.2)


async def notify_floor(url: str, pings: int = 200) -> list[float]:
    """Seconds from a NOTIFY returning on one connection to its delivery on another."""
    delays: list[float] = []
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as listener, \
            await psycopg.AsyncConnection.connect(url, autocommit=True) as sender:
        await listener.execute("LISTEN bench_ping")
        for _ in range(pings):
            await sender.execute("NOTIFY bench_ping")
            sent = time.perf_counter()
            async for _ in listener.notifies(timeout=5, stop_after=1):
                delays.append(time.perf_counter() - sent)
    return delays


async def load(url: str, watcher: Watcher, rate: float, seconds: float, writers: int
               ) -> tuple[int, float, list[float]]:
    """Append at ``rate``/s for ``seconds``; returns (appends, elapsed, commit latencies)."""
    conns: asyncio.Queue[psycopg.AsyncConnection[Any]] = asyncio.Queue()
    for _ in range(writers):
        conns.put_nowait(await psycopg.AsyncConnection.connect(url, autocommit=True))
    meta = EventMetadata(actor="bench")
    commits: list[float] = []

    async def one(n: int) -> None:
        conn = await conns.get()
        try:
            event = ListCreated(list_id=1_000_000 + n, uuid=str(uuid.uuid4()), name=f"lag {n}",
                                list_type="public", optin="single", at=datetime.now(UTC))
            started = time.perf_counter()
            async with conn.transaction():
                position = await append(conn, [StreamAppend(f"list-{1_000_000 + n}", NO_STREAM,
                                                            [event])], meta)
            committed = time.perf_counter()
            watcher.expect(position, committed)
            commits.append(committed - started)
            await conn.execute("NOTIFY postlog_events")
        finally:
            conns.put_nowait(conn)

    tasks: list[asyncio.Task[None]] = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for n in range(total):
        await asyncio.sleep(max(0.0, start + n / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(one(n)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not conns.empty():
        await conns.get_nowait().close()
    return total, elapsed, commits


async def run(url: str, args: Any) -> tuple[list[list[Any]], dict[str, Any]]:
    async with postlog_up(url) as _server:
        await wait_for_projection(url, args.projection)
        floor = await notify_floor(url)
        watcher = Watcher(url, args.projection, args.poll_ms / 1000)
        watching = asyncio.create_task(watcher.run())
        appended, elapsed, commits = await load(url, watcher, args.rate, args.seconds,
                                                args.writers)
        watcher.loaded = True
        with suppress(TimeoutError):
            await asyncio.wait_for(watcher.drained.wait(), args.drain)
        watcher.stop.set()
        await watching
    lags = watcher.lags

    def row(name: str, values: list[float]) -> list[Any]:
        return [name, len(values), percentile(values, 50) * 1000, percentile(values, 99) * 1000,
                max(values, default=0.0) * 1000]

    rows = [row("append commit -> projection checkpoint", lags),
            row("reference: append commit latency", commits),
            row("reference: NOTIFY -> LISTEN delivery", floor)]
    extra = {"target_rate": args.rate, "achieved_rate": round(appended / elapsed, 1),
             "not_caught_up": len(watcher.pending), "poll_ms": args.poll_ms,
             "projection": args.projection, "writers": args.writers}
    return rows, extra


def main() -> None:
    parser = base_parser("lists projection lag under a steady append rate", seconds=10.0)
    parser.add_argument("--rate", type=float, default=200.0, help="appends per second (200)")
    parser.add_argument("--writers", type=int, default=4, help="writer connections (4)")
    parser.add_argument("--projection", default="lists", help="checkpoint name to follow")
    parser.add_argument("--poll-ms", type=float, default=5.0,
                        help="checkpoint poll interval when no notification arrives (5)")
    parser.add_argument("--drain", type=float, default=10.0,
                        help="seconds to wait for the projection to catch up after the load")
    args = parser.parse_args()
    with fresh_database() as url:
        conditions = server_conditions(url)
        rows, extra = asyncio.run(run(url, args))
    report("append-to-read-model lag (lists projection)",
           ["measure", "samples", "p50 ms", "p99 ms", "max ms"], rows,
           {**extra, "seconds": args.seconds, **conditions}, args.json)


if __name__ == "__main__":
    main()
