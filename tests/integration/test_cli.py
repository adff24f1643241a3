"""The ``postlog`` command as a user runs it: real subprocesses, real servers, real HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kernel.db import open_pool
from kernel.nats import connect
from kernel.settings import Settings
from postlog.export import ExportFilter, Record, export_events
from services.command_api.users.handlers import create_api_user

POSTLOG = Path(sys.executable).with_name("postlog")
STARTUP_SECONDS = 120.0
STOP_SECONDS = 45.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(**settings: str) -> dict[str, str]:
    """The caller's environment without any POSTLOG_* variable, plus the given ones."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("POSTLOG_")}
    env.update(POSTLOG_LOG_FORMAT="json", POSTLOG_LOG_LEVEL="warning", POSTLOG_HOST="127.0.0.1")
    env.update({f"POSTLOG_{key.upper()}": value for key, value in settings.items()})
    return env


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(POSTLOG), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False)


class Running:
    """A long-running ``postlog`` process whose stdout is collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.stderr_path = cwd / f"stderr-{uuid.uuid4().hex[:6]}.log"
        with self.stderr_path.open("wb") as stderr:
            self.proc = subprocess.Popen([str(POSTLOG), *args], env=env, cwd=cwd,
                                         stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def diagnostics(self) -> str:
        stderr = self.stderr_path.read_text(errors="replace").splitlines()[-30:]
        return "stdout:\n" + "\n".join(self.lines) + "\nstderr:\n" + "\n".join(stderr)

    async def wait_for(self, found: Callable[[list[str]], bool], what: str,
                       within: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + within
        while not found(self.lines):
            if self.proc.poll() is not None:
                pytest.fail(f"postlog exited ({self.proc.returncode}) before {what}\n"
                            + self.diagnostics())
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} after {within}s\n" + self.diagnostics())
            await asyncio.sleep(0.1)

    def stop(self) -> int:
        """SIGTERM, as a service manager would; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("postlog did not stop on SIGTERM\n" + self.diagnostics())


def banner_value(lines: list[str], label: str) -> str:
    for line in lines:
        match = re.match(rf"\s*{label}:\s+(\S+)", line)
        if match:
            return match.group(1)
    raise AssertionError(f"no '{label}' in the output:\n" + "\n".join(lines))


async def wait_until_healthy(base_url: str, auth: httpx.Auth, proc: Running) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    async with httpx.AsyncClient(base_url=base_url, auth=auth, timeout=5) as client:
        while True:
            try:
                response = await client.get("/api/health")
                if response.status_code == 200:
                    assert response.json() == {"data": True}
                    return
            except httpx.TransportError:
                pass
            if proc.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("postlog up never answered /api/health\n" + proc.diagnostics())
            await asyncio.sleep(0.1)


async def health_status(base_url: str, **request: Any) -> int:
    async with httpx.AsyncClient(base_url=base_url, timeout=5) as client:
        return (await client.get("/api/health", **request)).status_code


@pytest.fixture
async def nats_prefix_of_test(nats_server_url: str) -> AsyncIterator[str]:
    """A NATS prefix (so a JetStream stream) of this test alone, deleted afterwards."""
    prefix = f"cli{uuid.uuid4().hex[:10]}"
    yield prefix
    settings = Settings(nats_url=nats_server_url, nats_prefix=prefix)
    nc = await connect(settings, "tests")
    try:
        await nc.jetstream().delete_stream(settings.stream_name)
    except Exception:  # the test failed before the stream existed
        pass
    finally:
        await nc.close()


async def test_up_serves_the_api_with_the_admin_credentials_it_prints(
    fresh_database_url: str, nats_server_url: str, nats_prefix_of_test: str, tmp_path: Path
) -> None:
    port = free_port()
    env = cli_env(database_url=fresh_database_url, nats_url=nats_server_url,
                  nats_prefix=nats_prefix_of_test, port=str(port), data_dir=str(tmp_path / "d"))
    up = Running(["up"], env, tmp_path)
    try:
        base_url = f"http://127.0.0.1:{port}"
        await up.wait_for(lambda lines: any(base_url in line for line in lines), "banner")
        await up.wait_for(lambda lines: any("Stop with Ctrl-C" in line for line in lines),
                          "end of banner", within=5)
        user = banner_value(up.lines, "admin user")
        password = banner_value(up.lines, "admin password")
        assert user == "admin"
        assert "generated" in "\n".join(up.lines)
        await wait_until_healthy(base_url, httpx.BasicAuth(user, password), up)
        assert await health_status(base_url, auth=("admin", "not-the-password")) == 403

        created = run_cli("users", "create-api", "ci-robot", env=env, cwd=tmp_path)
        assert created.returncode == 0, created.stderr
        token = created.stdout.strip()
        assert re.fullmatch(r"[A-Za-z0-9]{48}", token), created.stdout
        auth = {"Authorization": f"token ci-robot:{token}"}
        assert await health_status(base_url, headers=auth) == 200

        again = run_cli("users", "create-api", "ci-robot", env=env, cwd=tmp_path)
        assert again.returncode != 0
        assert "already exists" in again.stderr
    finally:
        code = up.stop()
    assert code == 0, up.diagnostics()


async def test_up_with_no_urls_runs_embedded_servers_that_keep_the_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    env = cli_env(port=str(port), data_dir=str(data_dir))
    base_url = f"http://127.0.0.1:{port}"

    up = Running(["up"], env, tmp_path)
    try:
        await up.wait_for(lambda lines: any("Stop with Ctrl-C" in line for line in lines),
                          "banner")
        assert "embedded" in "\n".join(up.lines)
        password = banner_value(up.lines, "admin password")
        await wait_until_healthy(base_url, httpx.BasicAuth("admin", password), up)

        # Another terminal, no configuration: the admin commands find the running servers.
        exported = run_cli("events", "export", env=env, cwd=tmp_path)
        assert exported.returncode == 0, exported.stderr
        types = [json.loads(line)["type"] for line in exported.stdout.splitlines()]
        assert "user.created" in types
    finally:
        assert up.stop() == 0, up.diagnostics()
    assert not _processes_using(data_dir), "embedded servers still running after postlog stopped"

    # The second start finds the same admin: the password is not replaced, and still works.
    again = Running(["up"], env, tmp_path)
    try:
        await again.wait_for(lambda lines: any("Stop with Ctrl-C" in line for line in lines),
                             "banner")
        assert "unchanged" in banner_value_line(again.lines, "admin password")
        await wait_until_healthy(base_url, httpx.BasicAuth("admin", password), again)
    finally:
        assert again.stop() == 0, again.diagnostics()
    assert not _processes_using(data_dir)


def banner_value_line(lines: list[str], label: str) -> str:
    return next(line for line in lines if label in line)


def _processes_using(data_dir: Path) -> list[str]:
    """Command lines of running processes that mention ``data_dir`` (embedded servers)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(data_dir) in cmdline:
            found.append(cmdline)
    return found


async def _three_users(database_url: str) -> None:
    pool = await open_pool(Settings(database_url=database_url, db_pool_min=1), name="t")
    try:
        for name in ("alice-bot", "bob-bot", "carol-bot"):
            await create_api_user(pool, name)
    finally:
        await pool.close()


def _ndjson(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


async def test_events_export_writes_the_log_as_ndjson_and_filters_it(
    fresh_database_url: str, tmp_path: Path
) -> None:
    await _three_users(fresh_database_url)
    env = cli_env(database_url=fresh_database_url, data_dir=str(tmp_path / "d"))

    def export(*args: str) -> list[dict[str, Any]]:
        done = run_cli("events", "export", *args, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return _ndjson(done.stdout)

    everything = export()
    assert [r["data"]["username"] for r in everything] == ["alice-bot", "bob-bot", "carol-bot"]
    assert set(everything[0]) == {"position", "event_id", "stream_id", "category", "version",
                                  "type", "schema_version", "data", "metadata", "recorded_at"}
    assert everything[0]["type"] == "user.created"

    bob = everything[1]
    assert [r["event_id"] for r in export("--stream", bob["stream_id"])] == [bob["event_id"]]
    after_alice = [r["event_id"] for r in everything[1:]]
    assert [r["event_id"] for r in export("--since", everything[0]["position"])] == after_alice
    global_position = everything[0]["position"].split(":")[1]
    assert [r["event_id"] for r in export("--since", global_position)] == after_alice
    until_bob = [r["event_id"] for r in everything[:2]]
    assert [r["event_id"] for r in export("--until", bob["recorded_at"])] == until_bob

    output = tmp_path / "log.ndjson"
    done = run_cli("events", "export", "--output", str(output), env=env, cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == ""
    assert _ndjson(output.read_text()) == everything

    bad = run_cli("events", "export", "--since", "not-a-position", env=env, cwd=tmp_path)
    assert bad.returncode == 2 and "not a position" in bad.stderr


async def test_export_passes_every_record_through_the_transform_hook(
    fresh_database_url: str,
) -> None:
    import io

    import psycopg

    await _three_users(fresh_database_url)

    def redact(record: Record) -> Record:
        return {**record, "data": {"username": "[redacted]"}}

    out = io.BytesIO()
    async with await psycopg.AsyncConnection.connect(fresh_database_url, autocommit=True) as conn:
        written = await export_events(conn, out, ExportFilter(), transform=redact)
    assert written == 3
    assert {r["data"]["username"] for r in _ndjson(out.getvalue().decode())} == {"[redacted]"}


async def test_events_tail_prints_the_latest_events_then_new_ones_as_they_commit(
    fresh_database_url: str, tmp_path: Path
) -> None:
    await _three_users(fresh_database_url)
    env = cli_env(database_url=fresh_database_url, data_dir=str(tmp_path / "d"))
    tail = Running(["events", "tail", "--last", "1"], env, tmp_path)
    try:
        await tail.wait_for(lambda lines: len(lines) >= 1, "the latest event", within=60)
        assert json.loads(tail.lines[0])["data"]["username"] == "carol-bot"

        created = run_cli("users", "create-api", "dave-bot", env=env, cwd=tmp_path)
        assert created.returncode == 0, created.stderr
        await tail.wait_for(lambda lines: len(lines) >= 2, "the new event", within=30)
        assert json.loads(tail.lines[1])["data"]["username"] == "dave-bot"
    finally:
        assert tail.stop() == 0, tail.diagnostics()
    assert len(tail.lines) == 2


def test_serve_refuses_to_start_without_the_urls_it_needs(tmp_path: Path) -> None:
    done = run_cli("serve", "relay", env=cli_env(data_dir=str(tmp_path / "d")), cwd=tmp_path)
    assert done.returncode == 2
    assert "POSTLOG_DATABASE_URL is required" in done.stderr
    assert not (tmp_path / "d").exists(), "serve must never start embedded servers"
