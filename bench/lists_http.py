"""`POST /api/lists` through real HTTP against `postlog up`, beside GET /api/health and pgbench.

Each POST creates a list and answers only once the lists projection has caught up
(read-your-writes), so its latency is the whole command path: HTTP, auth, decide, append,
commit, projection, read back. References measured in the same run at the same concurrency:
``GET /api/health`` with the same client (the floor of HTTP + auth + this client on this
machine) and pgbench's raw single-row INSERT rate (the floor of one durable commit).

    .venv/bin/python bench/lists_http.py [--seconds 5] [--concurrency 1 8] [--no-pgbench]
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.common import (
    Postlog,
    base_parser,
    fresh_database,
    percentile,
    pgbench_insert_tps,
    postlog_up,
    report,
    server_conditions,
)

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass
class Sample:
    """Latencies (seconds) of the successful requests in the window, and the failures."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000


async def post_list(client: httpx.AsyncClient, n: int) -> httpx.Response:
    body = {"name": f"bench list {n}", "type": "public", "optin": "single",
            "tags": ["bench"], "description": "created by bench/lists_http.py"}
    return await client.post("/api/lists", json=body)


async def get_health(client: httpx.AsyncClient, n: int) -> httpx.Response:
    return await client.get("/api/health")


async def drive(server: Postlog, request: Request, concurrency: int, seconds: float,
                warmup: float) -> Sample:
    """``concurrency`` closed-loop clients sending ``request`` for warmup + seconds."""
    sample = Sample(seconds)
    counter = itertools.count(1)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth, limits=limits,
                                 timeout=30) as client:
        warmup_end = time.perf_counter() + warmup
        end = warmup_end + seconds

        async def worker() -> None:
            while (started := time.perf_counter()) < end:
                try:
                    response = await request(client, next(counter))
                    ok = response.is_success
                except httpx.HTTPError:
                    ok = False
                finished = time.perf_counter()
                if started < warmup_end or finished > end:
                    continue
                if ok:
                    sample.latencies.append(finished - started)
                else:
                    sample.errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sample


async def check_endpoint(server: Postlog) -> None:
    """Fail early, with the answer, when POST /api/lists does not create a list."""
    async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth, timeout=30) as client:
        response = await post_list(client, 0)
    data = response.json().get("data") if response.is_success else None
    if not isinstance(data, dict) or "id" not in data:
        raise SystemExit(f"POST /api/lists is not usable: {response.status_code} {response.text}")


async def run(url: str, concurrencies: list[int], seconds: float, warmup: float,
              with_pgbench: bool) -> list[list[Any]]:
    rows: list[list[Any]] = []
    async with postlog_up(url) as server:
        await check_endpoint(server)
        for c in concurrencies:
            health = await drive(server, get_health, c, seconds, warmup)
            posts = await drive(server, post_list, c, seconds, warmup)
            rate = posts.per_second
            for name, got in (("POST /api/lists", posts), ("GET /api/health", health)):
                rows.append([c, name, got.per_second, got.ms(50), got.ms(99), got.errors,
                             rate / got.per_second if got.per_second else 0.0])
            if with_pgbench:
                raw = await asyncio.to_thread(pgbench_insert_tps, url, c, seconds)
                rows.append([c, "pgbench raw INSERT", raw, "", "", "", rate / raw])
    return rows


def main() -> None:
    parser = base_parser("POST /api/lists over HTTP beside GET /api/health", seconds=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds run before measuring each configuration (default 1)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the raw INSERT reference")
    args = parser.parse_args()
    with fresh_database() as url:
        conditions = server_conditions(url)
        rows = asyncio.run(run(url, args.concurrency, args.seconds, args.warmup,
                               not args.no_pgbench))
    report(
        "POST /api/lists through HTTP (read-your-writes included)",
        ["concurrency", "request", "req/s", "p50 ms", "p99 ms", "errors", "POST rate / this"],
        rows,
        {"seconds_per_config": args.seconds, **conditions},
        args.json,
    )


if __name__ == "__main__":
    main()
