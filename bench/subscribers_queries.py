"""`GET /api/subscribers` over many subscribers, beside the same answers in raw SQL.

Seeds ``--subscribers`` subscribers through the real import path (a generated CSV uploaded to
``POST /api/import/subscribers``, all on one list, then waiting until every projection holds
them and the relay has published them to NATS, so nothing runs in the background; the seeding
time is reported), runs ``VACUUM ANALYZE`` on the read-model tables as
autovacuum would after a bulk load and a ``CHECKPOINT`` (the load's dirty pages written out
before, not during, the measurements), then measures three requests, each closed loop for
``--seconds`` at each ``--concurrency``:

- ``city``: ``?query=subscribers.attribs->>'city'='City <k>'`` (``--cities`` values, so about
  subscribers/cities matches; no index serves it);
- ``list page``: ``?list_id=<id>&page=1&per_page=20``;
- ``email``: ``?query=subscribers.email='sub<n>@bench.example'`` (one match).

Reference, same run, same concurrency: the statements a plain implementation sends for the same
answer, through psycopg on the read-model tables (one connection per client): the total
(``count(*)``, or the list's ``subscriber_count`` counter as listmonk and postlog use), the page
of 20 (``ORDER BY id DESC``), and the lists of those 20 subscribers.

    .venv/bin/python bench/subscribers_queries.py [--subscribers 100000] [--seconds 5]
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench._subscribers_seed import (
    city_of,
    create_list,
    email_of,
    interruptible,
    run_import,
    write_csv,
)
from bench.common import (
    Postlog,
    base_parser,
    fresh_database,
    postlog_up,
    report,
    server_conditions,
)
from bench.lists_http import Sample, drive

COLUMNS = "id, uuid, email, name, attribs, status, created_at, updated_at"
LISTS_OF_PAGE = (
    "SELECT sl.subscriber_id, sl.status, sl.created_at, sl.updated_at, sl.meta, l.id, l.uuid,"
    " l.name, l.type, l.optin, l.status, l.tags, l.description, l.created_at, l.updated_at"
    " FROM readmodel.subscriber_lists sl JOIN readmodel.lists l ON l.id = sl.list_id"
    " WHERE sl.subscriber_id = ANY(%s) ORDER BY sl.subscriber_id, l.id")
RAW = {
    "city": (
        "SELECT count(*) FROM readmodel.subscribers WHERE attribs->>'city' = %s",
        f"SELECT {COLUMNS} FROM readmodel.subscribers WHERE attribs->>'city' = %s"
        " ORDER BY id DESC LIMIT 20"),
    "list page": (
        "SELECT subscriber_count FROM readmodel.lists WHERE id = %s",
        f"SELECT {', '.join('s.' + c for c in COLUMNS.split(', '))}"
        " FROM readmodel.subscribers s JOIN readmodel.subscriber_lists sl"
        " ON sl.subscriber_id = s.id AND sl.list_id = %s ORDER BY s.id DESC LIMIT 20"),
    "email": (
        "SELECT count(*) FROM readmodel.subscribers WHERE email = %s",
        f"SELECT {COLUMNS} FROM readmodel.subscribers WHERE email = %s"
        " ORDER BY id DESC LIMIT 20"),
}


@dataclass(frozen=True)
class Seeded:
    subscribers: int
    cities: int
    list_id: int

    def argument(self, kind: str, n: int) -> Any:
        """The city, list id or e-mail that request ``n`` of ``kind`` asks for."""
        if kind == "city":
            return city_of(n, self.cities)
        if kind == "email":
            return email_of(n * 7919 % self.subscribers + 1)  # spread over the whole table
        return self.list_id

    def api_params(self, kind: str, n: int) -> dict[str, Any]:
        value = self.argument(kind, n)
        if kind == "city":
            return {"query": f"subscribers.attribs->>'city'='{value}'"}
        if kind == "email":
            return {"query": f"subscribers.email='{value}'"}
        return {"list_id": value, "page": 1, "per_page": 20}

    def expected_total(self, kind: str, n: int) -> int:
        if kind == "city":
            city = n % self.cities
            return len(range(city or self.cities, self.subscribers + 1, self.cities))
        return 1 if kind == "email" else self.subscribers


def api_request(seeded: Seeded, kind: str) -> Callable[[httpx.AsyncClient, int],
                                                       Awaitable[httpx.Response]]:
    async def request(client: httpx.AsyncClient, n: int) -> httpx.Response:
        return await client.get("/api/subscribers", params=seeded.api_params(kind, n))
    return request


async def check_answers(server: Postlog, seeded: Seeded) -> None:
    """Fail early when an answer is not the expected total and page (a wrong answer is not a
    benchmark result)."""
    async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth, timeout=30) as client:
        for kind in RAW:
            for n in (1, 2, seeded.cities + 3):
                response = await api_request(seeded, kind)(client, n)
                data = response.json().get("data") if response.is_success else None
                want = seeded.expected_total(kind, n)
                if not isinstance(data, dict) or data.get("total") != want or \
                        len(data.get("results") or []) != min(20, want):
                    raise SystemExit(f"{kind} request {n}: want total {want}, got"
                                     f" {response.status_code} {response.text[:500]}")


async def raw_drive(url: str, seeded: Seeded, kind: str, concurrency: int, seconds: float,
                    warmup: float) -> Sample:
    """The reference: the same answer in raw SQL, ``concurrency`` closed-loop connections."""
    count_sql, page_sql = RAW[kind]
    sample = Sample(seconds)
    counter = itertools.count(1)
    warmup_end = time.perf_counter() + warmup
    end = warmup_end + seconds

    async def worker() -> None:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            while (started := time.perf_counter()) < end:
                argument = seeded.argument(kind, next(counter))
                total = (await (await conn.execute(count_sql, (argument,))).fetchone() or (0,))[0]
                page = await (await conn.execute(page_sql, (argument,))).fetchall()
                await (await conn.execute(LISTS_OF_PAGE, ([r[0] for r in page],))).fetchall()
                finished = time.perf_counter()
                if started >= warmup_end and finished <= end:
                    sample.latencies.append(finished - started)
                    if not total:
                        sample.errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sample


async def vacuum_analyze(url: str) -> float:
    started = time.perf_counter()
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE readmodel.subscribers, readmodel.subscriber_lists,"
                           " readmodel.lists")
        # Flush the load's dirty pages now rather than in the middle of the measurements.
        await conn.execute("CHECKPOINT")
    return time.perf_counter() - started


async def run(url: str, path: Path, args: Any) -> tuple[list[list[Any]], dict[str, Any]]:
    rows: list[list[Any]] = []
    async with postlog_up(url) as server:
        async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth,
                                     timeout=30) as client:
            list_id = await create_list(client, "bench queries")
        seed = await run_import(server, path, [list_id], args.subscribers, args.timeout)
        if seed.read_model_rows != args.subscribers:
            raise SystemExit(f"seeded {seed.read_model_rows} of {args.subscribers} subscribers")
        vacuum = await vacuum_analyze(url)
        seeded = Seeded(args.subscribers, args.cities, list_id)
        await check_answers(server, seeded)
        for c in args.concurrency:
            for kind in RAW:
                api = await drive(server, api_request(seeded, kind), c, args.seconds,
                                  args.warmup)
                raw = await raw_drive(url, seeded, kind, c, args.seconds, args.warmup)
                for via, got in (("API", api), ("raw SQL", raw)):
                    rows.append([kind, c, via, got.per_second, got.ms(50), got.ms(99),
                                 got.errors, got.ms(50) / raw.ms(50) if raw.latencies else 0.0])
    extra = {"subscribers": args.subscribers, "city_matches": args.subscribers // args.cities,
             "seed_import_job_s": round(seed.job_done, 1),
             "seed_until_readable_s": round(seed.all_done, 1),
             "seed_until_published_s": round(seed.relay_done, 1),
             "vacuum_analyze_s": round(vacuum, 1)}
    return rows, extra


def main() -> None:
    parser = base_parser("GET /api/subscribers over many subscribers beside raw SQL",
                         seconds=5.0)
    parser.add_argument("--subscribers", type=int, default=100_000,
                        help="subscribers seeded through the import (default 100,000)")
    parser.add_argument("--cities", type=int, default=50, help="distinct attribs.city values")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1])
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds run before measuring each configuration (default 1)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="give up when seeding takes longer (s, default 3600)")
    args = parser.parse_args()
    interruptible()
    workdir = Path(tempfile.mkdtemp(prefix="postlog-bench-queries-"))
    try:
        path = workdir / "subscribers.csv"
        write_csv(path, args.subscribers, args.cities)
        with fresh_database() as url:
            conditions = server_conditions(url)
            rows, extra = asyncio.run(run(url, path, args))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report("GET /api/subscribers beside raw SQL on the read model",
           ["request", "concurrency", "via", "req/s", "p50 ms", "p99 ms", "errors",
            "p50 / raw p50"], rows,
           {**extra, "seconds_per_config": args.seconds, **conditions}, args.json)


if __name__ == "__main__":
    main()
