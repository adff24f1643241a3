"""Shared pieces of the benchmarks: a fresh database, pgbench, `postlog up`, tables, percentiles.

Every benchmark builds its own database and NATS prefix, targets 127.0.0.1 only and removes
what it created when it ends (also on Ctrl-C).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from kernel.logging import configure_logging
from kernel.settings import Settings
from postlog.migrate import migrate
from tests.servers import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NATS_URL = os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
ADMIN_USER = "bench"
ADMIN_PASSWORD = "bench-password"


def base_parser(description: str, seconds: float) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=seconds,
                        help=f"measured duration of each configuration (default {seconds})")
    parser.add_argument("--json", action="store_true",
                        help="print the results as JSON on stdout (the table goes to stderr)")
    return parser


@contextmanager
def fresh_database() -> Iterator[str]:
    """A new, migrated database dropped afterwards; yields its URL.

    ``BENCH_KEEP_DATABASE=1`` keeps it (its URL is printed) to look into a run afterwards."""
    configure_logging(Settings(log_level="warning", log_format="console"))
    url = create_database(ADMIN_URL, prefix="postlog_bench")
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        if os.environ.get("BENCH_KEEP_DATABASE") == "1":
            print(f"kept database: {url}", file=sys.stderr)
        else:
            drop_database(ADMIN_URL, url)


def server_conditions(url: str) -> dict[str, str]:
    """Server settings that decide commit cost, recorded beside every result."""
    with psycopg.connect(url) as conn:
        found = {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                 for name in ("server_version", "synchronous_commit", "fsync")}
    found["cpus"] = str(os.cpu_count())
    found["load_1m"] = f"{os.getloadavg()[0]:.2f}"
    return found


RAW_TABLE = "CREATE TABLE IF NOT EXISTS bench_raw (id bigserial PRIMARY KEY, payload jsonb)"
RAW_INSERT = "INSERT INTO bench_raw(payload) VALUES ('{\"a\":1}')"


def pgbench_insert_tps(url: str, clients: int, seconds: float) -> float:
    """Raw single-row INSERT commits per second from pgbench (prepared, one commit per row)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(RAW_INSERT + ";\n")
    try:
        done = subprocess.run(
            ["pgbench", "-n", "-M", "prepared", "-f", script.name, "-c", str(clients), "-j", "1",
             "-T", str(max(1, round(seconds))), url],
            capture_output=True, text=True, check=True,
        )
    finally:
        os.unlink(script.name)
    match = re.search(r"tps = ([0-9.]+)", done.stdout)
    if match is None:
        raise RuntimeError(f"cannot read pgbench output:\n{done.stdout}\n{done.stderr}")
    return float(match.group(1))


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def report(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
           extra: dict[str, Any], as_json: bool) -> None:
    """Print a table (stdout, or stderr under --json) and, under --json, the JSON document."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    out = sys.stderr if as_json else sys.stdout
    print(f"\n{title}", file=out)
    for key, value in extra.items():
        print(f"  {key}: {value}", file=out)
    print("  " + "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True)), file=out)
    for row in cells:
        print("  " + "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)), file=out)
    if as_json:
        doc = {"benchmark": title, **extra,
               "results": [{h: round(v, 4) if isinstance(v, float) else v
                            for h, v in zip(headers, row, strict=True)} for row in rows]}
        print(json.dumps(doc, default=str))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def postlog_env(database_url: str, prefix: str, port: int, workdir: Path) -> dict[str, str]:
    """The environment of a postlog process of a benchmark (its data under ``workdir``)."""
    return {**os.environ, "POSTLOG_DATABASE_URL": database_url, "POSTLOG_NATS_URL": NATS_URL,
            "POSTLOG_NATS_PREFIX": prefix, "POSTLOG_HOST": "127.0.0.1",
            "POSTLOG_PORT": str(port), "POSTLOG_ROOT_URL": f"http://127.0.0.1:{port}",
            "POSTLOG_ADMIN_USER": ADMIN_USER, "POSTLOG_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "POSTLOG_LOG_LEVEL": "warning", "POSTLOG_LOG_FORMAT": "json",
            "POSTLOG_DATA_DIR": str(workdir / "data")}


@dataclass(frozen=True)
class Postlog:
    """A running `postlog up` subprocess."""

    base_url: str
    auth: tuple[str, str]
    database_url: str
    nats_prefix: str


@asynccontextmanager
async def postlog_up(database_url: str, startup_timeout: float = 60.0, code: Path | None = None
                     ) -> AsyncIterator[Postlog]:
    """Run `postlog up` on a free port with a unique NATS prefix; stop it and drop its stream.

    ``code`` (an absolute path) runs the packages of another checkout (first on PYTHONPATH),
    with this checkout's virtual environment."""
    prefix = f"bench{uuid.uuid4().hex[:10]}"
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="postlog-bench-"))
    env = postlog_env(database_url, prefix, port, workdir)
    if code is not None:
        env["PYTHONPATH"] = str(code)
    log_path = workdir / "postlog.log"
    with log_path.open("wb") as log_file:
        proc = await asyncio.create_subprocess_exec(
            str(ROOT / ".venv/bin/postlog"), "up", env=env, cwd=workdir,
            stdout=log_file, stderr=subprocess.STDOUT)
    server = Postlog(f"http://127.0.0.1:{port}", (ADMIN_USER, ADMIN_PASSWORD), database_url, prefix)
    try:
        await _wait_healthy(server, proc, startup_timeout, log_path)
        yield server
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await delete_nats_stream(prefix)
        shutil.rmtree(workdir, ignore_errors=True)


async def _wait_healthy(server: Postlog, proc: asyncio.subprocess.Process, within: float,
                        log_path: Path) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=server.base_url, auth=server.auth) as client:
        while time.monotonic() < deadline and proc.returncode is None:
            try:
                if (await client.get("/api/health", timeout=2)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    tail = (await asyncio.to_thread(log_path.read_text, errors="replace"))[-3000:]
    raise RuntimeError(f"postlog up did not become healthy (exit={proc.returncode}):\n{tail}")


async def delete_nats_stream(prefix: str) -> None:
    """Remove the JetStream stream(s) created for ``prefix`` (consumers go with them)."""
    import nats
    from nats.js.errors import NotFoundError

    stream = re.sub(r"[^A-Za-z0-9_-]", "_", prefix).upper()
    try:
        nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    except Exception as exc:  # NATS absent: nothing of ours to clean
        print(f"warning: cannot reach NATS to delete stream {stream}: {exc}", file=sys.stderr)
        return
    try:
        js = nc.jetstream()
        for name in await js.streams_info():
            if name.config.name and name.config.name.startswith(stream):
                with suppress(NotFoundError):
                    await js.delete_stream(name.config.name)
    finally:
        await nc.close()
