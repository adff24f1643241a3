"""Event-store append rate beside pgbench's raw single-row INSERT rate on the same server.

Each append is its own transaction (BEGIN, ``events.store.append``, COMMIT) on a new stream,
like a command creating an entity. Writers each own one psycopg async connection. The reference
is pgbench inserting one jsonb row per transaction with the same number of clients, run just
before the appends, so the ratio ``appends/s / raw inserts/s`` reads the event store's overhead
over the cheapest durable commit this server can do. A second reference runs the same INSERT
through this harness (psycopg, same event loop): ``appends/psycopg`` separates the event store's
own cost from the Python client's.

    .venv/bin/python bench/append_rate.py [--seconds 3] [--writers 1 8] [--batches 1 10]
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.common import (
    RAW_INSERT,
    base_parser,
    fresh_database,
    pgbench_insert_tps,
    report,
    server_conditions,
)
from events.base import EventMetadata
from events.lists import ListCreated
from events.store import NO_STREAM, StreamAppend, append


def _events(first_id: int, count: int) -> list[ListCreated]:
    at = datetime.now(UTC)
    return [ListCreated(list_id=first_id + i, uuid=str(uuid.uuid4()), name=f"bench list {i}",
                        list_type="public", optin="single", tags=["bench"], at=at)
            for i in range(count)]


Operation = Callable[[psycopg.AsyncConnection[Any], int], Awaitable[None]]


def store_append(per_append: int) -> Operation:
    """One transaction appending ``per_append`` events to a new stream."""
    meta = EventMetadata(actor="bench", correlation_id=str(uuid.uuid4()))

    async def op(conn: psycopg.AsyncConnection[Any], n: int) -> None:
        stream = f"list-b{n}x{uuid.uuid4().hex[:12]}"
        async with conn.transaction():
            await append(conn, [StreamAppend(stream, NO_STREAM, _events(n, per_append))], meta)

    return op


async def raw_insert(conn: psycopg.AsyncConnection[Any], n: int) -> None:
    """The same-driver floor: one autocommitted single-row INSERT (what pgbench does)."""
    await conn.execute(RAW_INSERT)


async def _writer(url: str, op: Operation, warmup_end: float, end: float) -> int:
    counted = 0
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        n = 0
        while (started := time.perf_counter()) < end:
            n += 1
            await op(conn, n)
            if started >= warmup_end and time.perf_counter() <= end:
                counted += 1
    return counted


async def rate(url: str, writers: int, op: Operation, seconds: float, warmup: float) -> float:
    """Operations per second committed by ``writers`` connections inside the measured window."""
    warmup_end = time.perf_counter() + warmup
    counts = await asyncio.gather(*(_writer(url, op, warmup_end, warmup_end + seconds)
                                    for _ in range(writers)))
    return sum(counts) / seconds


async def run(url: str, writer_counts: list[int], batches: list[int], seconds: float,
              warmup: float) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for writers in writer_counts:
        pgbench = await asyncio.to_thread(pgbench_insert_tps, url, writers, seconds)
        driver = await rate(url, writers, raw_insert, seconds, warmup)
        for per_append in batches:
            appends = await rate(url, writers, store_append(per_append), seconds, warmup)
            rows.append([writers, per_append, appends, appends * per_append, pgbench,
                         appends / pgbench, driver, appends / driver])
    return rows


def main() -> None:
    parser = base_parser("event-store append rate beside raw pgbench inserts", seconds=3.0)
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10],
                        help="events per append (default 1 10)")
    parser.add_argument("--warmup", type=float, default=0.5,
                        help="seconds run before measuring each configuration (default 0.5)")
    args = parser.parse_args()
    with fresh_database() as url:
        conditions = server_conditions(url)
        rows = asyncio.run(run(url, args.writers, args.batches, args.seconds, args.warmup))
    report(
        "event-store appends vs raw inserts (pgbench)",
        ["writers", "events/append", "appends/s", "events/s", "pgbench inserts/s",
         "appends/pgbench", "psycopg inserts/s", "appends/psycopg"],
        rows,
        {"seconds_per_config": args.seconds, **conditions},
        args.json,
    )


if __name__ == "__main__":
    main()
