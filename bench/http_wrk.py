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
from pathlib import Path
from typing import Any

from bench._wrk import basic_auth, lua_string, require_wrk, run_wrk
from bench.common import base_parser, fresh_database, postlog_up, report, server_conditions

_REQUEST = r"""
local counter = 0
request = function()
  if METHOD == "POST" then
    counter = counter + 1
    local body = '{"name":"wrk-' .. RUN .. '-' .. thread_id .. '-' .. counter .. '"}'
    return wrk.format("POST", PATH, {["Content-Type"] = "application/json",
                                     ["Authorization"] = AUTH}, body)
  end
  return wrk.format("GET", PATH, {["Authorization"] = AUTH})
end
"""


def wrk(base_url: str, method: str, path: str, connections: int, seconds: float,
        run_id: str) -> dict[str, Any]:
    """One wrk run; requests/s, p50/p99 (ms) and the failures."""
    script = (_REQUEST.replace("METHOD", lua_string(method)).replace("PATH", lua_string(path))
              .replace("AUTH", lua_string(basic_auth())).replace("RUN", lua_string(run_id)))
    found = run_wrk(base_url, script, connections, seconds)
    return {"rate": found.rate, "p50_ms": found.p50_ms, "p99_ms": found.p99_ms,
            "failed": found.failed}


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
    require_wrk()
    with fresh_database() as url:
        conditions = server_conditions(url)
        code = args.code.resolve() if args.code else None
        rows = asyncio.run(measure(url, args.seconds, args.connections, code))
    report("HTTP with wrk against `postlog up` (ratio: to GET /api/health, same connections)",
           ["request", "connections", "req/s", "p50 ms", "p99 ms", "failed", "ratio"], rows,
           {**conditions, "code": str(args.code or "this checkout")}, args.json)


if __name__ == "__main__":
    main()
