"""Helpers for the projection runner and rebuild tests: a small test read model, a stand-in
relay that publishes the log the way events/relay.py does, and polling with deadlines."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from nats.js import JetStreamContext
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from events.base import EventMetadata
from events.lists import ListCreated, ListDeleted, ListUpdated
from events.store import START, Position, RecordedEvent, StreamAppend, append, read_all
from events.wire import MSG_ID, encode_message
from kernel.metrics import Metrics
from kernel.settings import Settings
from projections.base import Projection, Statement, Tables
from projections.runner import AfterCommit, ProjectionRunner

NOW = datetime(2024, 1, 1, tzinfo=UTC)
META = EventMetadata(actor="test")


class ListBook:
    """Test read model: lists by id (name, how often touched) and a count of events per type.

    The counts make any double application visible. With ``poisonable``, a list named ``poison``
    makes this model write a NULL into a NOT NULL column, the way a buggy projection would.
    """

    categories: tuple[str, ...] = ("list",)
    # A deletion depends on nothing before it: applied even on a quarantined stream.
    applied_on_frozen_streams = frozenset({"list.deleted"})

    def __init__(self, name: str = "book", *, poisonable: bool = False) -> None:
        self.name = name
        self.poisonable = poisonable
        self.rows = f"{name}_rows"
        self.totals = f"{name}_totals"
        self.tables: tuple[str, ...] = (self.rows, self.totals)

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return [
            sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, name text NOT NULL,"
                    " touched int NOT NULL, position text NOT NULL)").format(t[self.rows]),
            sql.SQL("CREATE INDEX ON {} (name)").format(t[self.rows]),
            sql.SQL("CREATE TABLE {} (type text PRIMARY KEY, events bigint NOT NULL)")
            .format(t[self.totals]),
        ]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        rows, e = t[self.rows], event.decode()
        count = sql.SQL("INSERT INTO {} AS t (type, events) VALUES (%s, 1)"
                        " ON CONFLICT (type) DO UPDATE SET events = t.events + 1")
        out: list[Statement] = [(count.format(t[self.totals]), (event.type,))]
        if isinstance(e, ListCreated):
            name = None if self.poisonable and e.name == "poison" else e.name
            out.append((sql.SQL("INSERT INTO {} (id, name, touched, position)"
                                " VALUES (%s, %s, 1, %s)").format(rows),
                        (e.list_id, name, str(event.position))))
        elif isinstance(e, ListUpdated):
            out.append((sql.SQL("UPDATE {} SET name = %s, touched = touched + 1, position = %s"
                                " WHERE id = %s").format(rows),
                        (e.name, str(event.position), e.list_id)))
        elif isinstance(e, ListDeleted):
            out.append((sql.SQL("DELETE FROM {} WHERE id = %s").format(rows), (e.list_id,)))
        return out


def created(list_id: int, name: str | None = None) -> ListCreated:
    return ListCreated(list_id=list_id, uuid=str(uuid.uuid4()), name=name or f"list {list_id}",
                       list_type="public", optin="single", at=NOW)


def updated(list_id: int, name: str) -> ListUpdated:
    return ListUpdated(list_id=list_id, name=name, list_type="public", optin="single",
                       status="active", at=NOW)


async def append_lists(pool: AsyncConnectionPool[Any], ids: Sequence[int],
                       *, updates: int = 0, delete: bool = False) -> Position:
    """Create a list per id (then rename it ``updates`` times, then maybe delete it)."""
    position = START
    async with pool.connection() as conn:
        for list_id in ids:
            events: list[Any] = [created(list_id)]
            events += [updated(list_id, f"list {list_id} v{n}") for n in range(updates)]
            if delete:
                events.append(ListDeleted(list_id=list_id, at=NOW))
            async with conn.transaction():
                position = await append(
                    conn, [StreamAppend(f"list-{list_id}", 0, events)], META)
    return position


async def append_one(pool: AsyncConnectionPool[Any], event: Any, stream: str) -> Position:
    async with pool.connection() as conn, conn.transaction():
        return await append(conn, [StreamAppend(stream, -1, [event])], META)


async def plant(
    pool: AsyncConnectionPool[Any], stream_id: str, event_type: str, data: dict[str, Any], *,
    category: str | None = None, schema_version: int = 1,
    metadata: dict[str, Any] | None = None,
) -> Position:
    """Insert an event row directly, as a hand-made log would hold it: no validation, no codec.

    The category defaults to the stream id's prefix and the version to the stream's next one.
    """
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "INSERT INTO eventlog.events (event_id, stream_id, category, version, type,"
            " schema_version, data, metadata) SELECT %s, %s, %s,"
            " coalesce(max(version), 0) + 1, %s, %s, %s, %s FROM eventlog.events"
            " WHERE stream_id = %s RETURNING tx_id::text::bigint, global_position",
            (uuid.uuid4(), stream_id, category or stream_id.split("-", 1)[0], event_type,
             schema_version, Jsonb(data), Jsonb(metadata or {}), stream_id))
        row = await cur.fetchone()
    assert row is not None
    return Position(int(row[0]), int(row[1]))


async def publish_log(
    js: JetStreamContext, settings: Settings, pool: AsyncConnectionPool[Any], through: Position,
    *, only_after: Position | None = None, fresh_ids: bool = False,
) -> None:
    """Publish the log up to ``through`` as the relay does (in order, with previous positions).

    Events become readable only once every older transaction of the cluster has finished, so
    this polls until ``through`` is visible. ``only_after`` leaves out earlier events (a gap);
    ``fresh_ids`` defeats JetStream's deduplication, so the stream holds events twice (as after
    a relay restart).
    """
    prev, deadline = START, time.monotonic() + 60
    while prev < through:
        async with pool.connection() as conn:
            events = await read_all(conn, prev, limit=100_000)
        for event in events:
            payload, headers = encode_message(event, prev)
            prev = event.position
            if only_after is not None and event.position <= only_after:
                continue
            if fresh_ids:
                headers[MSG_ID] = str(uuid.uuid4())
            await js.publish(settings.subject_for(event.category, event.type), payload,
                             stream=settings.stream_name, headers=headers)
        if prev < through:
            assert time.monotonic() < deadline, f"{through} did not become visible"
            await asyncio.sleep(0.02)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 60.0) -> None:
    """Poll ``check`` until it holds; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {within}s")
        await asyncio.sleep(0.02)


async def checkpoint(pool: AsyncConnectionPool[Any], name: str) -> Position | None:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT tx_id::text::bigint, global_position FROM readmodel.projection_checkpoints"
            " WHERE name = %s", (name,))
        row = await cur.fetchone()
    return Position(int(row[0]), int(row[1])) if row else None


def at(pool: AsyncConnectionPool[Any], names: Sequence[str],
       position: Position) -> Callable[[], Awaitable[bool]]:
    """A check that every named projection reached ``position``."""
    async def check() -> bool:
        for name in names:
            cp = await checkpoint(pool, name)
            if cp is None or cp < position:
                return False
        return True
    return check


async def table_rows(pool: AsyncConnectionPool[Any], table: str) -> list[tuple[Any, ...]]:
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            sql.SQL("SELECT * FROM {} ORDER BY 1").format(sql.Identifier("readmodel", table)))
        return list(await cur.fetchall())


async def consumers(js: JetStreamContext, settings: Settings) -> int:
    try:
        info = await js.stream_info(settings.stream_name)
    except Exception:
        return 0
    return int(info.state.consumer_count or 0)


@asynccontextmanager
async def running(
    settings: Settings, pool: AsyncConnectionPool[Any], projections: Sequence[Projection],
    *, metrics: Metrics | None = None, after_commit: AfterCommit | None = None,
    **options: Any,
) -> AsyncIterator[asyncio.Task[None]]:
    """A runner task for the duration of the block (stopped and awaited on exit)."""
    stop = asyncio.Event()
    runner = ProjectionRunner(settings, pool, projections, metrics or Metrics(),
                              after_commit=after_commit, **options)
    task = asyncio.create_task(runner.run(stop))
    try:
        yield task
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 10)


async def notify_appended(pool: AsyncConnectionPool[Any]) -> None:
    """What the command side does after an append."""
    async with pool.connection() as conn:
        await conn.execute("NOTIFY postlog_events")


async def kill_connections(admin_url: str, database_url: str) -> int:
    """Terminate every session of the test database (a database restart, as clients see it)."""
    dbname = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    async with await psycopg.AsyncConnection.connect(admin_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
        row = await cur.fetchone()
    return int(row[0]) if row else 0
