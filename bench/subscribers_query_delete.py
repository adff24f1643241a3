"""`POST /api/subscribers/query/delete` over many subscribers, until the read models show none,
beside one plain SQL `DELETE` of the same rows.

Seeds ``--subscribers`` subscribers through the import API (all on one list), then deletes all of
them with ``{"all": true}`` and measures from the request until the answer (which waits for the
read models) and until ``GET /api/subscribers`` reports a total of 0. Every deletion erases: the
subscriber's key is shredded and its e-mail index row removed, in batches of 1,000 per
transaction. Reference, same run: ``CREATE TABLE .. AS`` copies of ``readmodel.subscribers`` and
``readmodel.subscriber_lists`` (with primary keys), then one ``DELETE`` of each, in one
transaction: what listmonk's single-statement delete does to its own tables.

    .venv/bin/python -m bench.subscribers_query_delete [--subscribers 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench._subscribers_seed import create_list, interruptible, run_import, write_csv
from bench.common import fresh_database, postlog_up, report, server_conditions


async def sql_reference(url: str) -> float:
    """Seconds one transaction takes to delete every row of copies of the two tables."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("CREATE TABLE bench_subs AS SELECT * FROM readmodel.subscribers")
        await conn.execute("ALTER TABLE bench_subs ADD PRIMARY KEY (id)")
        await conn.execute("CREATE TABLE bench_subs_lists AS"
                           " SELECT * FROM readmodel.subscriber_lists")
        await conn.execute("ALTER TABLE bench_subs_lists ADD PRIMARY KEY"
                           " (subscriber_id, list_id)")
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute("DELETE FROM bench_subs_lists")
            await conn.execute("DELETE FROM bench_subs")
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_subs_lists, bench_subs")
    return elapsed


async def run(url: str, path: Path, subscribers: int, within: float
              ) -> tuple[list[list[Any]], dict[str, Any]]:
    async with postlog_up(url) as server:
        async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth,
                                     timeout=within) as client:
            list_id = await create_list(client, "bench query delete")
            seed = await run_import(server, path, [list_id], subscribers, within)
            reference = await sql_reference(url)
            started = time.perf_counter()
            response = await client.post("/api/subscribers/query/delete", json={"all": True})
            answered = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"delete by query failed: {response.status_code} {response.text}")
            total_at_answer = (await client.get("/api/subscribers")).json()["data"]["total"]
            while (await client.get("/api/subscribers")).json()["data"]["total"]:
                if time.perf_counter() - started > within:
                    raise SystemExit("subscribers still listed after the deadline")
                await asyncio.sleep(0.1)
            listed_none = time.perf_counter() - started
        async with await psycopg.AsyncConnection.connect(url) as conn:
            cur = await conn.execute("SELECT count(*) FROM eventlog.subscriber_keys")
            keys_left = int((await cur.fetchone() or (0,))[0])

    def row(name: str, seconds: float) -> list[Any]:
        return [name, seconds, subscribers / seconds if seconds else 0.0, seconds / reference]

    table = [row("answer (read models caught up)", answered),
             row("GET /api/subscribers lists none", listed_none),
             row("reference: one SQL DELETE of copies", reference)]
    extra = {"subscribers": subscribers, "seed_until_readable_s": round(seed.all_done, 1),
             "total_listed_right_after_the_answer": total_at_answer,
             "data_keys_left": keys_left}
    return table, extra


def main() -> None:
    parser = argparse.ArgumentParser(description="delete by query until none is listed")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on stdout (the table goes to stderr)")
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args()
    interruptible()
    workdir = Path(tempfile.mkdtemp(prefix="postlog-bench-delete-"))
    try:
        path = workdir / "subscribers.csv"
        write_csv(path, args.subscribers, 50)
        with fresh_database() as url:
            conditions = server_conditions(url)
            table, extra = asyncio.run(run(url, path, args.subscribers, args.timeout))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report("POST /api/subscribers/query/delete {all: true} until none is listed",
           ["milestone", "seconds", "subscribers/s", "time / SQL time"], table,
           {**extra, **conditions}, args.json)


if __name__ == "__main__":
    main()
