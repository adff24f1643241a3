"""HTTP rates of `postlog up` measured with wrk (a C load generator), beside GET /api/health.

Python clients saturate near 1,100 requests/s on two cores and hide the server's real rate, so
this drives the server with wrk (Debian package ``wrk``). Every configuration runs against the
same `postlog up` in the same run, so the figures read as ratios to ``GET /api/health`` (HTTP +
auth, nothing else):

- ``GET /api/health``: the reference;
- ``POST /api/lists``: a whole command, answered once the lists projection has caught up
  (read-your-writes): HTTP, auth, handler, append, commit, projection, read back;
- ``GET /api/lists``: a read model page.

``--code DIR`` runs `postlog up` from another checkout (e.g. ``git worktree add /tmp/before
<commit>``), so two versions of the code are measured with the same client, database server and
benchmark: how the before/after pairs in docs/benchmarks.md were taken.

    .venv/bin/python -m bench.http_wrk [--seconds 10] [--connections 1 8] [--code DIR]
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from bench.common import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    base_parser,
    fresh_database,
    postlog_up,
    report,
    server_conditions,
)

_LUA = r"""
local counter, thread_id = 0, 0
local threads = {}
function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end
request = function()
  if METHOD == "POST" then
    counter = counter + 1
    local body = '{"name":"wrk-' .. RUN .. '-' .. thread_id .. '-' .. counter .. '"}'
    return wrk.format("POST", PATH, {["Content-Type"] = "application/json",
                                     ["Authorization"] = AUTH}, body)
  end
  return wrk.format("GET", PATH, {["Authorization"] = AUTH})
end
function done(summary, latency, requests)
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d,' ..
    ' "p50_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
"""


def wrk(base_url: str, method: str, path: str, connections: int, seconds: float,
        run_id: str) -> dict[str, Any]:
    """One wrk run; requests/s, p50/p99 (ms) and the failures."""
    auth = "Basic " + base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()
    script = _LUA.replace("METHOD", json.dumps(method)).replace("PATH", json.dumps(path))
    script = script.replace("AUTH", json.dumps(auth)).replace("RUN", json.dumps(run_id))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        done = subprocess.run(
            ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--latency", "-s", f.name, base_url], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
        out = done.stdout
    finally:
        Path(f.name).unlink(missing_ok=True)
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    found = json.loads(line.removeprefix("RESULT "))
    rate = found["requests"] / (found["duration_us"] / 1e6)
    return {"rate": rate, "p50_ms": found["p50_us"] / 1000, "p99_ms": found["p99_us"] / 1000,
            "failed": found["non_2xx"] + found["socket_errors"]}


async def measure(url: str, seconds: float, connections: list[int], code: Path | None
                  ) -> list[list[Any]]:
    async with postlog_up(url, code=code) as server:
        rows: list[list[Any]] = []
        for c in connections:
            health = await asyncio.to_thread(
                wrk, server.base_url, "GET", "/api/health", c, seconds, "h")
            for method, path in (("GET", "/api/health"), ("POST", "/api/lists"),
                                 ("GET", "/api/lists")):
                found = health if path == "/api/health" else await asyncio.to_thread(
                    wrk, server.base_url, method, path, c, seconds, f"c{c}")
                rows.append([f"{method} {path}", c, round(found["rate"], 1),
                             round(found["p50_ms"], 2), round(found["p99_ms"], 2),
                             found["failed"], round(found["rate"] / health["rate"], 3)])
    return rows


def main() -> None:
    parser = base_parser(__doc__ or "", seconds=10.0)
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--code", type=Path, default=None,
                        help="run `postlog up` from this checkout instead of this one")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    with fresh_database() as url:
        conditions = server_conditions(url)
        code = args.code.resolve() if args.code else None
        rows = asyncio.run(measure(url, args.seconds, args.connections, code))
    report("HTTP with wrk against `postlog up` (ratio: to GET /api/health, same connections)",
           ["request", "connections", "req/s", "p50 ms", "p99 ms", "failed", "ratio"], rows,
           {**conditions, "code": str(args.code or "this checkout")}, args.json)


if __name__ == "__main__":
    main()
