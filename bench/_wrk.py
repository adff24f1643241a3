"""Running wrk (a C load generator, Debian package ``wrk``) from a benchmark, and reading its
figures back.

Not a benchmark itself (``make bench`` skips modules starting with ``_``). A benchmark gives the
Lua of its ``request()`` (and whatever globals it needs); this module adds the rest of the
script:

- ``setup(thread)`` numbers wrk's threads from 1 into the global ``thread_id`` of each thread,
  so a ``request()`` can build values unique per thread and per request
  (``thread_id .. '-' .. counter``);
- with ``count_statuses``, a ``response()`` counting the answers per HTTP status in each thread
  (wrk's own summary only counts statuses above 399), summed over the threads at the end;
- ``done()`` writing one ``RESULT {json}`` line that :func:`run_wrk` parses.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ADMIN_PASSWORD, ADMIN_USER

_SETUP = r"""
local threads = {}
thread_id = 0
function setup(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end
"""

_COUNT_STATUSES = r"""
statuses = {}
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
"""

_DONE = r"""
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local counted = t:get("statuses")
    if counted then
      for status, n in pairs(counted) do total[status] = (total[status] or 0) + n end
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  io.write(string.format(
    '\nRESULT {"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d,' ..
    ' "timeouts": %d, "p50_us": %d, "p99_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, latency:percentile(50), latency:percentile(99),
    table.concat(parts, ", ")))
end
"""


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run saw. ``statuses`` (HTTP status -> answers) is filled only when the
    script counted them; ``status_errors`` is wrk's own count of answers with a status > 399."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    status_errors: int
    socket_errors: int
    timeouts: int
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> int:
        """Answers with a 2xx status (needs ``count_statuses``)."""
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def non_2xx(self) -> int:
        """Answers with another status (needs ``count_statuses``)."""
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def failed(self) -> int:
        """Answers wrk counted as errors (> 399), broken connections and timeouts."""
        return self.status_errors + self.socket_errors + self.timeouts


def require_wrk() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")


def basic_auth() -> str:
    """The ``Authorization`` header value of the benchmarks' admin user."""
    return "Basic " + base64.b64encode(f"{ADMIN_USER}:{ADMIN_PASSWORD}".encode()).decode()


def lua_string(value: str) -> str:
    """``value`` as a Lua string literal (ASCII text: JSON's escapes are Lua's for it)."""
    if not value.isascii():
        raise ValueError(f"not ASCII: {value!r}")
    return json.dumps(value)


def run_wrk(base_url: str, request_lua: str, connections: int, seconds: float,
            count_statuses: bool = False) -> WrkRun:
    """Run wrk against ``base_url`` with ``connections`` connections (on up to two threads, the
    machine's cores) for ``seconds`` (whole seconds, at least 1), ``request_lua`` defining
    ``request()``; its figures."""
    script = _SETUP + request_lua + (_COUNT_STATUSES if count_statuses else "") + _DONE
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        done = subprocess.run(
            ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--latency", "-s", f.name, base_url], capture_output=True, text=True)
    finally:
        Path(f.name).unlink(missing_ok=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout}{done.stderr}")
    found = json.loads(line.removeprefix("RESULT "))
    return WrkRun(
        requests=found["requests"], seconds=found["duration_us"] / 1e6,
        p50_ms=found["p50_us"] / 1000, p99_ms=found["p99_us"] / 1000,
        status_errors=found["status_errors"], socket_errors=found["socket_errors"],
        timeouts=found["timeouts"],
        statuses={int(status): int(n) for status, n in found["statuses"].items()})
