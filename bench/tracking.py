"""Tracked-link redirects of `postlog up` with wrk, beside GET /api/health in the same run, then
the clicks read back (nothing lost).

Sets ``privacy.individual_tracking`` on, creates a campaign with one tracked link and 50
subscribers, registers the link through the web view, then drives ``GET /link/<link>/<campaign>/
<subscriber>`` (the 50 subscribers' URLs in turn) and ``GET /api/health`` with wrk. Each
redirect is answered from memory; the hits are appended in batches (docs/tracking.md). Once the
dedupe windows have closed (60 s), the campaign's ``clicks`` must be at least wrk's count of
completed redirects (requests cut at the end of a run may also have been counted).

    .venv/bin/python -m bench.tracking [--seconds 10] [--connections 8]
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import httpx

from bench._wrk import lua_string, require_wrk, run_wrk
from bench.common import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    base_parser,
    fresh_database,
    postlog_up,
    report,
    server_conditions,
)
from bench.http_wrk import wrk

SUBSCRIBERS = 50
TARGET = "https://example.com/landing"

_REQUEST = r"""
local paths = PATHS
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
"""


def wrk_paths(base_url: str, paths: list[str], connections: int, seconds: float
              ) -> dict[str, Any]:
    """One wrk run requesting ``paths`` in turn (no credentials: the links are public)."""
    script = _REQUEST.replace("PATHS", "{" + ",".join(lua_string(p) for p in paths) + "}")
    found = run_wrk(base_url, script, connections, seconds)
    return {"rate": found.rate, "p50_ms": found.p50_ms, "p99_ms": found.p99_ms,
            "failed": found.failed, "requests": found.requests}


async def prepare(client: httpx.AsyncClient) -> tuple[int, list[str]]:
    """The campaign id and the subscribers' tracked-link paths."""
    settings = (await client.get("/api/settings")).json()["data"]
    settings["privacy.individual_tracking"] = True
    (await client.put("/api/settings", json=settings)).raise_for_status()
    made = await client.post("/api/lists", json={"name": "bench", "type": "private"})
    list_id = made.json()["data"]["id"]
    people = []
    for n in range(SUBSCRIBERS):
        got = await client.post("/api/subscribers", json={
            "email": f"reader{n}@example.com", "name": f"Reader {n}", "lists": [list_id]})
        people.append(got.json()["data"]["uuid"])
    made = await client.post("/api/campaigns", json={
        "name": "bench", "subject": "bench", "lists": [list_id],
        "body": f'<a href="{{{{ TrackLink "{TARGET}" . }}}}">go</a>'})
    camp = made.json()["data"]
    deadline = time.monotonic() + 30
    while True:  # the web view registers the link (and settings apply within a second)
        page = await client.get(f"/campaign/{camp['uuid']}/{people[0]}")
        found = re.search(r"/link/([0-9a-f-]{36})/", page.text)
        if found and (await client.get(f"/link/{found[1]}/{camp['uuid']}/{people[0]}")
                      ).status_code == 307:
            break
        assert time.monotonic() < deadline, "the link was never registered"
        await asyncio.sleep(0.2)
    return camp["id"], [f"/link/{found[1]}/{camp['uuid']}/{p}" for p in people]


async def measure(url: str, seconds: float, connections: int
                  ) -> tuple[list[list[Any]], dict[str, int]]:
    async with postlog_up(url) as server:
        auth = (ADMIN_USER, ADMIN_PASSWORD)
        async with httpx.AsyncClient(base_url=server.base_url, auth=auth, timeout=30) as client:
            campaign_id, paths = await prepare(client)
            before = (await client.get(f"/api/campaigns/{campaign_id}")).json()["data"]["clicks"]
            health = await asyncio.to_thread(wrk, server.base_url, "GET", "/api/health",
                                             connections, seconds, "h")
            links = await asyncio.to_thread(wrk_paths, server.base_url, paths, connections,
                                            seconds)
            expected = before + links["requests"]
            deadline = time.monotonic() + 120
            clicks = before
            while time.monotonic() < deadline:
                got = await client.get(f"/api/campaigns/{campaign_id}")
                clicks = got.json()["data"]["clicks"]
                if clicks >= expected:
                    break
                await asyncio.sleep(1)
    rows = [[name, connections, round(r["rate"], 1), round(r["p50_ms"], 2),
             round(r["p99_ms"], 2), r["failed"], round(r["rate"] / health["rate"], 3)]
            for name, r in (("GET /api/health", health), ("GET /link/... (307)", links))]
    return rows, {"redirects_completed": links["requests"], "clicks_counted": clicks - before}


def main() -> None:
    parser = base_parser(__doc__ or "", seconds=10.0)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    require_wrk()
    with fresh_database() as url:
        conditions = server_conditions(url)
        rows, readback = asyncio.run(measure(url, args.seconds, args.connections))
    report("Tracked-link redirects with wrk against `postlog up` (ratio: to GET /api/health)",
           ["request", "connections", "req/s", "p50 ms", "p99 ms", "failed", "ratio"], rows,
           {**conditions, **{k: str(v) for k, v in readback.items()}}, args.json)


if __name__ == "__main__":
    main()
