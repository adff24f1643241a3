"""What checking pooled connections costs, and how fast a pool of dead connections recovers.

Three pools over the same server: no check; psycopg_pool's ``check=check_connection`` (a round
trip per borrow); postlog's ``CheckedPool`` (a poll of the socket, a round trip only when the
server sent something). First the cost of one borrow plus ``SELECT 1``, then the time the
first borrow takes after every idle connection of the pool was terminated.

    .venv/bin/python bench/pool_check.py [--seconds 2] [--dead 2 4 6]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bench.common import ADMIN_URL, base_parser, report, server_conditions
from kernel.db import CheckedPool, connection_kwargs

PoolFactory = Callable[..., AsyncConnectionPool[Any]]


def _variants() -> dict[str, PoolFactory]:
    def stock(url: str, **kw: Any) -> AsyncConnectionPool[Any]:
        return AsyncConnectionPool(url, check=AsyncConnectionPool.check_connection, **kw)

    return {"no check": AsyncConnectionPool, "check=check_connection": stock,
            "CheckedPool": CheckedPool}


async def _borrow_cost(factory: PoolFactory, seconds: float) -> float:
    """Microseconds per borrow + ``SELECT 1`` + return."""
    async with factory(ADMIN_URL, min_size=2, max_size=2, open=False,
                       kwargs=connection_kwargs("bench")) as pool:
        await pool.wait()
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
            count += 1
        return (time.perf_counter() - started) / count * 1e6


async def _recovery(factory: PoolFactory, dead: int) -> float | str:
    """Seconds the first borrow takes once ``dead`` idle connections were terminated."""
    name = f"bench-dead-{dead}"
    async with factory(ADMIN_URL, min_size=dead, max_size=dead + 2, open=False, timeout=30,
                       kwargs=connection_kwargs(name)) as pool:
        await pool.wait()
        async with await psycopg.AsyncConnection.connect(ADMIN_URL, autocommit=True) as admin:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                                " WHERE application_name = %s", (f"postlog-{name}",))
        await asyncio.sleep(0.1)  # let the goodbyes arrive
        started = time.perf_counter()
        try:
            async with pool.connection() as conn:
                await conn.execute("SELECT 1")
        except PoolTimeout:
            return "timeout (30 s)"
        except psycopg.OperationalError:
            return "handed out dead"
        return time.perf_counter() - started


async def _main(seconds: float, dead: list[int]) -> list[list[Any]]:
    rows = []
    for label, factory in _variants().items():
        cost = await _borrow_cost(factory, seconds)
        rows.append([label, cost, *[await _recovery(factory, n) for n in dead]])
    return rows


def main() -> None:
    parser = base_parser(__doc__ or "", seconds=2.0)
    parser.add_argument("--dead", type=int, nargs="+", default=[2, 4, 6])
    args = parser.parse_args()
    rows = asyncio.run(_main(args.seconds, args.dead))
    report("pool check: borrow cost and recovery after terminated backends",
           ["pool", "us/borrow+SELECT 1", *[f"s, {n} dead" for n in args.dead]], rows,
           server_conditions(ADMIN_URL), args.json)


if __name__ == "__main__":
    main()
