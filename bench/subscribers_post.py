"""`POST /api/subscribers` driven by wrk (a C load generator) against `postlog up`, beside
`GET /api/health` at the same connections in the same run, then a check that every accepted POST
is readable.

Each POST creates a subscriber (a new e-mail, a name, attributes, one list, preconfirmed) and is
answered only once the read models it touches have it (read-your-writes), so its latency is the
whole command path: HTTP, auth, validation, e-mail index, data key, sealing, append, commit,
relay, projections, read back. wrk's Lua ``request()`` builds every body, with an e-mail unique
per run, wrk thread and counter; its ``response()`` counts the answers per status.

References from the same run at the same connections: ``GET /api/health`` with wrk (HTTP + auth,
nothing else; the ratio column is the POST rate divided by it) and, unless ``--no-pgbench``,
pgbench's raw single-row INSERT rate (one durable commit).

Afterwards, every POST wrk saw answered 2xx (warm-ups included) must be readable: the
subscribers on the benchmark's e-mail domain are counted row by row through ``GET
/api/subscribers?query=...`` (and the API's total beside it). Up to one POST per connection may
have been in flight when wrk stopped: created, but not counted by wrk, so readable may exceed
accepted by that much, never fall short. The script exits with status 1 when it falls short.

    .venv/bin/python -m bench.subscribers_post [--seconds 10] [--connections 1 16]
        [--warmup 1] [--no-pgbench] [--json]
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx

from bench._subscribers_seed import create_list, interruptible
from bench._wrk import WrkRun, basic_auth, lua_string, require_wrk, run_wrk
from bench.common import (
    Postlog,
    base_parser,
    fresh_database,
    pgbench_insert_tps,
    postlog_up,
    report,
    server_conditions,
)

DOMAIN = "post.bench.example"
# Issue 14's figures of merit for this path.
TARGET_RATIO = 0.15  # POST rate / health rate at 16 connections
TARGET_P50_MS = 8.0  # POST p50 at one connection

_POST = r"""
local counter = 0
local headers = {["Content-Type"] = "application/json", ["Authorization"] = AUTH}
request = function()
  counter = counter + 1
  local n = thread_id .. "-" .. counter
  local body = '{"email":"' .. RUN .. "-" .. n .. "@" .. DOMAIN .. '",' ..
    '"name":"Bench Subscriber ' .. n .. '","status":"enabled","lists":[' .. LIST .. '],' ..
    '"preconfirm_subscriptions":true,' ..
    '"attribs":{"city":"City ' .. (counter % 50) .. '","plan":"free","n":' .. counter .. '}}'
  return wrk.format("POST", "/api/subscribers", headers, body)
end
"""

_GET = r"""
local headers = {["Authorization"] = AUTH}
request = function()
  return wrk.format("GET", PATH, headers)
end
"""

# Counts rows of the subscribers read model (an expression is never answered from a counter).
_OURS = {"per_page": "1", "query": f"subscribers.email LIKE '%@{DOMAIN}'"}


def post_script(list_id: int, run: str) -> str:
    """``request()`` creating a new subscriber on ``list_id`` at every call, e-mail
    ``<run>-<thread>-<counter>@DOMAIN``."""
    return (_POST.replace("AUTH", lua_string(basic_auth())).replace("RUN", lua_string(run))
            .replace("DOMAIN", lua_string(DOMAIN)).replace("LIST", str(list_id)))


def get_script(path: str) -> str:
    return _GET.replace("AUTH", lua_string(basic_auth())).replace("PATH", lua_string(path))


async def totals(client: httpx.AsyncClient) -> tuple[int, int]:
    """(rows of the benchmark's subscribers, the API's total of all subscribers)."""
    rows = await client.get("/api/subscribers", params=_OURS)
    total = await client.get("/api/subscribers", params={"per_page": "1"})
    for response in (rows, total):
        if response.status_code != 200:
            raise SystemExit(f"GET /api/subscribers failed: {response.status_code}"
                             f" {response.text}")
    return int(rows.json()["data"]["total"]), int(total.json()["data"]["total"])


async def settled_totals(client: httpx.AsyncClient, within: float = 30.0) -> tuple[int, int]:
    """:func:`totals` once the POSTs still in flight when wrk stopped are answered: the rows and
    the API's counter agree (every subscriber of the run is the benchmark's). Gives up after
    ``within`` seconds with the last figures, which the check then reports."""
    deadline = time.monotonic() + within
    found = await totals(client)
    while found[0] != found[1] and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        found = await totals(client)
    return found


async def prepare(client: httpx.AsyncClient) -> int:
    """Create the list; fail early, with the answer, when a POST like wrk's is refused or its
    subscriber is not counted. The list's id."""
    list_id = await create_list(client, "bench subscribers")
    probe = {"email": f"probe@{DOMAIN}", "name": "Bench Probe", "status": "enabled",
             "lists": [list_id], "preconfirm_subscriptions": True,
             "attribs": {"city": "City 0", "plan": "free", "n": 0}}
    response = await client.post("/api/subscribers", json=probe)
    data = response.json().get("data") if response.is_success else None
    if not isinstance(data, dict) or "id" not in data or not data.get("lists"):
        raise SystemExit(f"POST /api/subscribers is not usable: {response.status_code}"
                         f" {response.text}")
    if await totals(client) != (1, 1):
        raise SystemExit(f"the probe subscriber is not counted: {await totals(client)}")
    return list_id


def _failed(run: WrkRun) -> int:
    return run.non_2xx + run.socket_errors + run.timeouts


async def measure(server: Postlog, connections: list[int], seconds: float, warmup: float,
                  with_pgbench: bool) -> tuple[list[list[Any]], dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth, timeout=30) as client:
        list_id = await prepare(client)
        accepted = 1  # the probe
        refused: dict[int, int] = {}
        rows: list[list[Any]] = []
        headline: dict[str, Any] = {}
        for c in connections:
            health = await asyncio.to_thread(
                run_wrk, server.base_url, get_script("/api/health"), c, seconds)
            posts: list[WrkRun] = []
            for duration in ([warmup] if warmup > 0 else []) + [seconds]:
                script = post_script(list_id, f"c{c}-{uuid.uuid4().hex[:8]}")
                posts.append(await asyncio.to_thread(
                    run_wrk, server.base_url, script, c, duration, True))
            for run in posts:
                accepted += run.ok
                for status, n in run.statuses.items():
                    if not 200 <= status < 300:
                        refused[status] = refused.get(status, 0) + n
            post = posts[-1]
            rows.append([c, "POST /api/subscribers", post.rate, post.p50_ms, post.p99_ms,
                         _failed(post), 1.0])
            rows.append([c, "GET /api/health", health.rate, health.p50_ms, health.p99_ms,
                         health.failed, post.rate / health.rate if health.rate else 0.0])
            if with_pgbench:
                raw = await asyncio.to_thread(pgbench_insert_tps, server.database_url, c, seconds)
                rows.append([c, "pgbench raw INSERT", raw, "", "", "", post.rate / raw])
            headline[f"POST/health at {c}"] = round(post.rate / health.rate, 3)
            headline[f"POST p50 ms at {c}"] = round(post.p50_ms, 2)
        readable, api_total = await settled_totals(client)
    in_flight = sum(connections) * (2 if warmup > 0 else 1)
    check = {
        "accepted (2xx, warm-ups and probe included)": accepted,
        "readable afterwards (rows)": readable,
        "API total": api_total,
        "non-2xx answers": refused or 0,
        "every accepted POST readable": "yes" if readable >= accepted else "NO",
        "readable beyond accepted (in flight at wrk's stop, at most "
        f"{in_flight})": readable - accepted,
    }
    if 16 in connections:
        headline["target: POST/health at 16"] = f">= {TARGET_RATIO}"
    if 1 in connections:
        headline["target: POST p50 ms at 1"] = f"<= {TARGET_P50_MS}"
    return rows, {**headline, **check}


def main() -> None:
    parser = base_parser(__doc__ or "", seconds=10.0)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="seconds of POSTs before measuring each configuration (default 1;"
                             " 0: none)")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the raw INSERT reference")
    args = parser.parse_args()
    require_wrk()
    interruptible()
    with fresh_database() as url:
        conditions = server_conditions(url)

        async def run() -> tuple[list[list[Any]], dict[str, Any]]:
            async with postlog_up(url) as server:
                return await measure(server, args.connections, args.seconds, args.warmup,
                                     not args.no_pgbench)

        rows, found = asyncio.run(run())
    report(
        "POST /api/subscribers with wrk (read-your-writes included), beside GET /api/health",
        ["connections", "request", "req/s", "p50 ms", "p99 ms", "non-2xx/errors",
         "POST rate / this"],
        rows,
        {"seconds_per_config": args.seconds, "warmup_seconds": args.warmup, **conditions,
         **found},
        args.json,
    )
    if found["every accepted POST readable"] != "yes":
        raise SystemExit(1)


if __name__ == "__main__":
    main()
