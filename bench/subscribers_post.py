"""`POST /api/subscribers` through real HTTP against `postlog up`, beside GET /api/health and
pgbench.

Each POST creates a subscriber (a new e-mail, a name, attributes, one list) and answers only once
the read models it touches have caught up (read-your-writes: subscribers, lists, counts), so its
latency is the whole command path: HTTP, auth, validation, e-mail index, data key, sealing,
append, commit, projections, read back. References measured in the same run at the same
concurrency: ``GET /api/health`` with the same client (HTTP + auth + this client on this
machine) and pgbench's raw single-row INSERT rate (one durable commit).

    .venv/bin/python bench/subscribers_post.py [--seconds 5] [--concurrency 1 8] [--no-pgbench]
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import httpx

from bench._subscribers_seed import create_list, interruptible
from bench.common import (
    Postlog,
    base_parser,
    fresh_database,
    pgbench_insert_tps,
    postlog_up,
    report,
    server_conditions,
)
from bench.lists_http import Request, drive, get_health


def subscriber_poster(list_id: int) -> Request:
    """A request function creating a new subscriber on ``list_id`` at every call (its own
    counter: ``drive`` numbers each configuration's requests from 1 again)."""
    run = uuid.uuid4().hex[:8]
    numbers = itertools.count()

    async def post_subscriber(client: httpx.AsyncClient, _: int) -> httpx.Response:
        n = next(numbers)
        body = {"email": f"post{n}-{run}@bench.example", "name": f"Bench Subscriber {n}",
                "status": "enabled", "lists": [list_id], "preconfirm_subscriptions": True,
                "attribs": {"city": f"City {n % 50}", "plan": "free", "n": n}}
        return await client.post("/api/subscribers", json=body)

    return post_subscriber


async def prepare(server: Postlog) -> Request:
    """Create the list, and fail early, with the answer, when a POST does not create one."""
    async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth, timeout=30) as client:
        post = subscriber_poster(await create_list(client, "bench subscribers"))
        response = await post(client, 0)
    data = response.json().get("data") if response.is_success else None
    if not isinstance(data, dict) or "id" not in data or not data.get("lists"):
        raise SystemExit(f"POST /api/subscribers is not usable: {response.status_code}"
                         f" {response.text}")
    return post


async def run(url: str, concurrencies: list[int], seconds: float, warmup: float,
              with_pgbench: bool) -> list[list[Any]]:
    rows: list[list[Any]] = []
    async with postlog_up(url) as server:
        post = await prepare(server)
        for c in concurrencies:
            health = await drive(server, get_health, c, seconds, warmup)
            posts = await drive(server, post, c, seconds, warmup)
            rate = posts.per_second
            for name, got in (("POST /api/subscribers", posts), ("GET /api/health", health)):
                rows.append([c, name, got.per_second, got.ms(50), got.ms(99), got.errors,
                             rate / got.per_second if got.per_second else 0.0])
            if with_pgbench:
                raw = await asyncio.to_thread(pgbench_insert_tps, url, c, seconds)
                rows.append([c, "pgbench raw INSERT", raw, "", "", "", rate / raw])
    return rows


def main() -> None:
    parser = base_parser("POST /api/subscribers over HTTP beside GET /api/health", seconds=5.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds run before measuring each configuration (default 1)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the raw INSERT reference")
    args = parser.parse_args()
    interruptible()
    with fresh_database() as url:
        conditions = server_conditions(url)
        rows = asyncio.run(run(url, args.concurrency, args.seconds, args.warmup,
                               not args.no_pgbench))
    report(
        "POST /api/subscribers through HTTP (read-your-writes included)",
        ["concurrency", "request", "req/s", "p50 ms", "p99 ms", "errors", "POST rate / this"],
        rows,
        {"seconds_per_config": args.seconds, **conditions},
        args.json,
    )


if __name__ == "__main__":
    main()
