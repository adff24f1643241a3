"""``GET /api/about``: listmonk's ``about`` object (``cmd/settings.go``) for postlog.

- ``version``: the package's (``importlib.metadata``), ``v``-prefixed like listmonk's.
- ``build``: a ``BUILD`` file at the project root if the image wrote one at build time,
  otherwise the git commit and date of the checkout postlog runs from, otherwise ``unknown``.
- ``go_version`` / ``go_arch`` keep listmonk's names and hold the Python version and machine.
- ``database``: ``version`` (``SELECT version()``, as listmonk), ``server_version`` (``SHOW
  server_version``), ``size_mb``; ``nats``: the connected NATS server's ``version`` (postlog's
  addition; ``null`` while NATS cannot be reached).
- ``system``: ``num_cpu``; ``memory_alloc_mb`` is the process's resident memory now and
  ``memory_from_os_mb`` its peak, the nearest Python has to Go's heap figures.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import socket
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
import structlog

from services.runtime import Runtime

log = structlog.get_logger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[3]


@cache
def version_string() -> str:
    try:
        return f"v{metadata.version('postlog')}"
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def build_string() -> str:
    build_file = PROJECT_ROOT / "BUILD"
    if build_file.is_file():
        return build_file.read_text(encoding="utf-8").strip()[:200] or "unknown"
    try:
        out = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "log", "-1", "--format=%h %cI"],
            capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{version_string()} ({out})" if out else "unknown"


def _memory_mb() -> tuple[int, int]:
    """(resident now, peak resident) in MB."""
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        resident = pages * os.sysconf("SC_PAGE_SIZE") // (1024 * 1024)
    except (OSError, ValueError, IndexError):
        resident = peak_kb // 1024
    return resident, peak_kb // 1024


async def database_info(runtime: Runtime) -> dict[str, Any]:
    try:
        async with runtime.read_pool.connection() as conn:
            cur = await conn.execute(
                "SELECT version(), current_setting('server_version'),"
                " round(pg_database_size(current_database()) / (1024.0 ^ 2))")
            row = await cur.fetchone()
    except psycopg.Error as exc:
        log.warning("about_database_unavailable", error=str(exc))
        return {}
    assert row is not None
    return {"version": row[0], "server_version": row[1], "size_mb": int(row[2])}


async def about_info(runtime: Runtime, nats_version: str | None) -> dict[str, Any]:
    resident, peak = _memory_mb()
    return {
        "version": version_string(),
        "build": await asyncio.to_thread(build_string),  # git runs once, off the loop
        "go_version": f"python{platform.python_version()}",
        "go_arch": platform.machine(),
        "database": await database_info(runtime),
        "nats": {"version": nats_version},
        "system": {"num_cpu": os.cpu_count() or 1, "memory_alloc_mb": resident,
                   "memory_from_os_mb": peak},
        "host": {"os": sys.platform, "arch": platform.machine(),
                 "hostname": socket.gethostname()},
    }
