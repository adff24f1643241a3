"""Rebuilding a read model: identical tables from a replay, swapped in with no downtime."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from events.store import Position
from kernel.db import open_pool
from kernel.settings import Settings
from projections.rebuild import RebuildInProgress, rebuild
from tests.integration.projection_support import (
    ListBook,
    append_lists,
    at,
    eventually,
    notify_appended,
    running,
    table_rows,
)


@pytest.fixture
async def read_pool(iso_settings: Settings) -> AsyncIterator[AsyncConnectionPool[Any]]:
    """Connections as the query side has them: role postlog_reader, read only."""
    p = await open_pool(iso_settings, name="reader", read_only=True)
    yield p
    await p.close()


async def test_rebuild_produces_identical_tables(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], read_pool: AsyncConnectionPool[Any]
) -> None:
    book = ListBook("target")
    await append_lists(pool, range(1, 201), updates=2)
    head = await append_lists(pool, range(201, 251), delete=True)
    async with running(iso_settings, pool, [book]):
        await eventually(at(pool, [book.name], head))
        before = [await table_rows(pool, t) for t in book.tables]
        reached = await rebuild(iso_settings, pool, book, progress=False, batch_size=64)
        assert reached >= head
        assert [await table_rows(pool, t) for t in book.tables] == before
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT relname FROM pg_class WHERE relnamespace = 'readmodel'::regnamespace"
            " AND relname LIKE 'target%%' ORDER BY relname")
        relations = [r[0] for r in await cur.fetchall()]
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT generation FROM readmodel.projection_checkpoints WHERE name = 'target'")
        assert await cur.fetchone() == (2,)
    # No leftovers, and the indexes carry the names a fresh CREATE gives them.
    assert relations == ["target_rows", "target_rows_name_idx", "target_rows_pkey",
                         "target_totals", "target_totals_pkey"]
    async with read_pool.connection() as conn:
        cur = await conn.cursor(row_factory=tuple_row).execute(
            "SELECT count(*) FROM readmodel.target_rows")
        assert await cur.fetchone() == (200,)


async def test_reads_and_writes_go_on_during_a_rebuild(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], read_pool: AsyncConnectionPool[Any]
) -> None:
    target, reference = ListBook("target"), ListBook("reference")
    head = await append_lists(pool, range(1, 301), updates=2)
    stop = asyncio.Event()
    reads: list[int] = []
    failures: list[BaseException] = []
    last: list[Position] = [head]

    async def reader() -> None:
        while not stop.is_set():
            try:
                async with read_pool.connection() as conn:
                    cur = await conn.cursor(row_factory=tuple_row).execute(
                        "SELECT count(*) FROM readmodel.target_rows")
                    row = await cur.fetchone()
                    reads.append(int(row[0]) if row else -1)
            except Exception as exc:
                failures.append(exc)
            await asyncio.sleep(0.005)

    async def writer() -> None:
        list_id = 1000
        while not stop.is_set():
            last.append(await append_lists(pool, [list_id], updates=1))
            await notify_appended(pool)
            list_id += 1
            await asyncio.sleep(0.01)

    async with running(iso_settings, pool, [target, reference], notify_grace=0.05):
        await eventually(at(pool, [target.name, reference.name], head))
        background = [asyncio.create_task(reader()), asyncio.create_task(writer())]
        try:
            await eventually(lambda: _more_than(reads, 0))
            reads_before = len(reads)
            await rebuild(iso_settings, pool, target, progress=False, batch_size=50)
            reads_during = len(reads) - reads_before
        finally:
            stop.set()
            await asyncio.gather(*background)
        await eventually(at(pool, [target.name, reference.name], last[-1]))
    assert failures == []
    assert reads_during > 0
    assert min(reads) >= 300  # never an empty or half-filled table
    assert len(last) > 2  # lists were created while it rebuilt
    for mine, theirs in zip(target.tables, reference.tables, strict=True):
        assert await table_rows(pool, mine) == await table_rows(pool, theirs)


async def test_only_one_rebuild_of_a_projection_at_a_time(
    iso_settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    book = ListBook("target")
    async with pool.connection() as conn:
        await conn.execute("SELECT pg_advisory_lock(hashtext('postlog.rebuild:target'))")
        with pytest.raises(RebuildInProgress):
            await rebuild(iso_settings, pool, book, progress=False)
        await conn.execute("SELECT pg_advisory_unlock(hashtext('postlog.rebuild:target'))")


async def _more_than(values: list[int], n: int) -> bool:
    return len(values) > n
