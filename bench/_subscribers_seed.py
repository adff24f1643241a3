"""Shared pieces of the subscriber benchmarks: a generated CSV, an import, waiting for the reads.

Not a benchmark itself (``make bench`` skips modules starting with ``_``). The CSV has listmonk's
import columns ``email,name,attributes``; row ``n`` (from 1) is ``sub<n>@bench.example``, named
``Subscriber <n>``, with attributes ``{"city": "City <n % cities>", "plan": ..., "n": n}``, so
the benchmarks know which e-mails and cities exist without reading them back.

An import is driven through the real API (``POST /api/import/subscribers``, then polling
``GET /api/import/subscribers``); "done" means the read models hold it: every projection's
checkpoint at or past the log's head as it was when the import job finished.
"""

from __future__ import annotations

import asyncio
import csv
import json
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.common import Postlog
from events.store import Position, head_position

EMAIL_DOMAIN = "bench.example"
PLANS = ("free", "pro", "team")


def interruptible() -> None:
    """Make SIGTERM (and SIGINT, which a shell ignores for ``cmd &``) raise KeyboardInterrupt,
    so a long run stopped with ``kill`` still stops `postlog up` and drops its database."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def email_of(n: int) -> str:
    return f"sub{n}@{EMAIL_DOMAIN}"


def city_of(n: int, cities: int) -> str:
    return f"City {n % cities}"


def write_csv(path: Path, rows: int, cities: int) -> int:
    """Write ``rows`` subscribers to ``path``; returns the file's size in bytes."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "name", "attributes"])
        for n in range(1, rows + 1):
            attributes = {"city": city_of(n, cities), "plan": PLANS[n % len(PLANS)], "n": n}
            writer.writerow([email_of(n), f"Subscriber {n}",
                             json.dumps(attributes, separators=(",", ":"))])
    return path.stat().st_size


async def create_list(client: httpx.AsyncClient, name: str) -> int:
    """A new public single opt-in list; its id."""
    response = await client.post("/api/lists", json={
        "name": name, "type": "public", "optin": "single", "tags": ["bench"]})
    data = response.json().get("data") if response.is_success else None
    if not isinstance(data, dict) or "id" not in data:
        raise SystemExit(f"POST /api/lists failed: {response.status_code} {response.text}")
    return int(data["id"])


@dataclass
class ImportRun:
    """Seconds from sending the upload to each milestone, and what the server reported."""

    rows: int
    uploaded: float = 0.0  # POST answered (the file is on the server, the job started)
    job_done: float = 0.0  # GET /api/import/subscribers says finished
    subscribers_done: float = 0.0  # the subscribers projection reached the head
    all_done: float = 0.0  # every projection reached the head
    relay_done: float = 0.0  # the relay had published the head to NATS (the system is idle)
    imported: int = 0
    status: str = ""
    events: int = 0  # events the import appended
    read_model_rows: int = 0  # rows in readmodel.subscribers at the end
    behind_at_job_done: int = 0  # events the subscribers projection still had to apply then
    checkpoints: dict[str, float] = field(default_factory=dict)


async def run_import(server: Postlog, path: Path, list_ids: list[int], rows: int,
                     within: float, poll: float = 0.25) -> ImportRun:
    """Upload ``path`` and wait until the job finished and every projection has its events."""
    result = ImportRun(rows)
    params = {"mode": "subscribe", "subscription_status": "confirmed", "lists": list_ids,
              "overwrite": False, "delim": ","}
    async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth,
                                 timeout=within) as client, \
            await psycopg.AsyncConnection.connect(server.database_url, autocommit=True) as conn:
        before = await _event_count(conn)
        started = time.perf_counter()
        with path.open("rb") as upload:
            response = await client.post(
                "/api/import/subscribers", data={"params": json.dumps(params)},
                files={"file": (path.name, upload, "text/csv")})
        if not response.is_success:
            raise SystemExit(f"import upload failed: {response.status_code} {response.text}")
        result.uploaded = time.perf_counter() - started
        deadline = started + within
        while True:
            state = (await client.get("/api/import/subscribers")).json()["data"]
            if state["status"] in ("finished", "failed"):
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"import not finished after {within:.0f} s: {state}")
            await asyncio.sleep(poll)
        result.job_done = time.perf_counter() - started
        result.status, result.imported = str(state["status"]), int(state["imported"])
        if result.status != "finished":
            log = (await client.get("/api/import/subscribers/logs")).json()["data"]
            raise SystemExit(f"import {result.status}: {state}\n{str(log)[-2000:]}")
        head = await head_position(conn)
        cur = await conn.execute("SELECT global_position FROM readmodel.projection_checkpoints"
                                 " WHERE name = 'subscribers'")
        seen = int((await cur.fetchone() or (0,))[0])
        result.behind_at_job_done = max(0, head.global_position - seen)
        result.checkpoints = await wait_checkpoints(conn, head, started, deadline, poll)
        result.subscribers_done = result.checkpoints["subscribers"]
        result.all_done = max(result.checkpoints.values())
        result.relay_done = await wait_relay(conn, head, started, deadline, poll)
        result.events = await _event_count(conn) - before
        cur = await conn.execute("SELECT count(*) FROM readmodel.subscribers")
        result.read_model_rows = int((await cur.fetchone() or (0,))[0])
    return result


async def wait_checkpoints(conn: psycopg.AsyncConnection[Any], head: Position, started: float,
                           deadline: float, poll: float) -> dict[str, float]:
    """Seconds (from ``started``) at which each projection's checkpoint reached ``head``."""
    reached: dict[str, float] = {}
    while True:
        cur = await conn.execute("SELECT name, tx_id::text::bigint, global_position"
                                 " FROM readmodel.projection_checkpoints")
        rows = await cur.fetchall()
        now = time.perf_counter() - started
        for name, tx_id, global_position in rows:
            if name not in reached and Position(int(tx_id), int(global_position)) >= head:
                reached[str(name)] = now
        if rows and len(reached) == len(rows):
            return reached
        if time.perf_counter() > deadline:
            behind = sorted({str(r[0]) for r in rows} - set(reached))
            raise SystemExit(f"projections not caught up before the deadline: {behind}")
        await asyncio.sleep(poll)


async def wait_relay(conn: psycopg.AsyncConnection[Any], head: Position, started: float,
                     deadline: float, poll: float) -> float:
    """Seconds (from ``started``) at which the relay's checkpoint reached ``head``: until then
    the server still spends CPU publishing the import, which measurements should not share."""
    while True:
        cur = await conn.execute("SELECT tx_id::text::bigint, global_position"
                                 " FROM eventlog.checkpoints WHERE name LIKE 'relay:%'")
        row = await cur.fetchone()
        if row and Position(int(row[0]), int(row[1])) >= head:
            return time.perf_counter() - started
        if time.perf_counter() > deadline:
            raise SystemExit("the relay did not publish the import before the deadline")
        await asyncio.sleep(poll)


async def _event_count(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.execute("SELECT count(*) FROM eventlog.events")
    return int((await cur.fetchone() or (0,))[0])


async def copy_reference(url: str, path: Path) -> float:
    """Seconds PostgreSQL's ``COPY`` takes to load the same CSV into a plain table
    ``(email text, name text, attributes jsonb)`` from this client (no index, one transaction)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("DROP TABLE IF EXISTS bench_copy")
        await conn.execute("CREATE TABLE bench_copy (email text, name text, attributes jsonb)")
        started = time.perf_counter()
        async with conn.cursor() as cur, cur.copy(
                "COPY bench_copy (email, name, attributes) FROM STDIN"
                " WITH (FORMAT csv, HEADER true)") as copy:
            with path.open("rb") as source:
                while chunk := source.read(1 << 20):
                    await copy.write(chunk)
        elapsed = time.perf_counter() - started
        await conn.execute("DROP TABLE bench_copy")
    return elapsed
