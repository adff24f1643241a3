"""The event store's contract: concurrency, atomicity, ordering and never skipping late commits."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from events.base import EventMetadata
from events.campaigns import CampaignDeleted
from events.lists import ListCreated, ListDeleted, ListUpdated
from events.store import (
    ANY_VERSION,
    START,
    ConcurrencyError,
    DuplicateEventId,
    RecordedEvent,
    StreamAppend,
    append,
    read_all,
    read_stream,
)
from events.templates import TemplateDeleted
from events.validation import EventTooLarge, InvalidText

NOW = datetime(2024, 1, 1, tzinfo=UTC)
META = EventMetadata(actor="test")


def created(list_id: int) -> ListCreated:
    return ListCreated(list_id=list_id, uuid=str(uuid.uuid4()), name=f"l{list_id}",
                       list_type="public", optin="single", at=NOW)


def updated(list_id: int, name: str) -> ListUpdated:
    return ListUpdated(list_id=list_id, name=name, list_type="public", optin="single",
                       status="active", at=NOW)


async def read_all_once_visible(
    conn: psycopg.AsyncConnection[object], expected: int, within: float = 30.0
) -> list[RecordedEvent]:
    """``read_all`` once ``expected`` events are visible.

    Visibility is bounded by the oldest transaction running anywhere on the server (other
    databases included), so a busy shared server may hide committed events for a moment.
    """
    deadline = time.monotonic() + within
    while True:
        events = await read_all(conn, START, limit=10_000)
        if len(events) >= expected or time.monotonic() > deadline:
            return events
        await asyncio.sleep(0.02)


async def connect(url: str) -> psycopg.AsyncConnection[object]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def test_version_conflict_is_refused_and_appends_nothing(fresh_database_url: str) -> None:
    async with await connect(fresh_database_url) as conn:
        async with conn.transaction():
            await append(conn, [StreamAppend("list-1", 0, [created(1)])], META)
        with pytest.raises(ConcurrencyError):
            async with conn.transaction():
                await append(conn, [StreamAppend("list-1", 0, [updated(1, "x")])], META)
        events = await read_stream(conn, "list-1")
        assert [e.type for e in events] == ["list.created"]


async def test_multi_event_multi_stream_append_is_atomic(fresh_database_url: str) -> None:
    async with await connect(fresh_database_url) as conn:
        async with conn.transaction():
            await append(conn, [StreamAppend("list-2", 0, [created(2)])], META)
        with pytest.raises(ConcurrencyError):
            async with conn.transaction():
                await append(
                    conn,
                    [
                        StreamAppend("list-3", 0, [created(3), updated(3, "b")]),
                        StreamAppend("list-2", 0, [updated(2, "clash")]),
                    ],
                    META,
                )
        assert await read_stream(conn, "list-3") == []
        async with conn.transaction():
            three = [created(3), updated(3, "b"), ListDeleted(list_id=3, at=NOW)]
            position = await append(conn, [StreamAppend("list-3", 0, three)], META)
        events = await read_all_once_visible(conn, 4)
        assert [e.stream_id for e in events] == ["list-2", "list-3", "list-3", "list-3"]
        assert events[-1].position == position


async def test_stream_order_is_version_order(fresh_database_url: str) -> None:
    async with await connect(fresh_database_url) as conn:
        for i in range(5):
            async with conn.transaction():
                event = created(9) if i == 0 else updated(9, f"n{i}")
                await append(conn, [StreamAppend("list-9", ANY_VERSION, [event])], META)
        events = await read_stream(conn, "list-9")
        assert [e.version for e in events] == [1, 2, 3, 4, 5]
        assert [e.decode().name for e in events][1:] == ["n1", "n2", "n3", "n4"]  # type: ignore[attr-defined]


async def test_read_all_by_categories_pages_in_log_order(fresh_database_url: str) -> None:
    """The per-category merge gives the same pages as filtering the whole log."""
    kinds = [
        lambda i: ("list", created(100 + i)),
        lambda i: ("template", TemplateDeleted(template_id=i, at=NOW)),
        lambda i: ("campaign", CampaignDeleted(campaign_id=i, at=NOW)),
    ]
    async with await connect(fresh_database_url) as conn:
        for i in range(30):  # 30 transactions, the categories interleaved within and across them
            batch = [kinds[(i + k) % 3](i * 3 + k) for k in range(3)]
            async with conn.transaction():
                await append(conn, [StreamAppend(f"{cat}-{i}-{n}", 0, [event])
                                    for n, (cat, event) in enumerate(batch)], META)
        everything = await read_all_once_visible(conn, 90)
        for wanted in (["template"], ["campaign", "list"], ["list", "template", "campaign"]):
            expected = [e.event_id for e in everything if e.category in wanted]
            got, after = [], START
            while page := await read_all(conn, after, limit=7, categories=wanted):
                assert len(page) <= 7
                got.extend(e.event_id for e in page)
                after = page[-1].position
            assert got == expected


async def test_duplicate_event_id_is_reported(fresh_database_url: str) -> None:
    event_id = uuid.uuid4()
    async with await connect(fresh_database_url) as conn:
        async with conn.transaction():
            await append(conn, [StreamAppend("list-5", 0, [created(5)], [event_id])], META)
        with pytest.raises(DuplicateEventId):
            async with conn.transaction():
                await append(conn, [StreamAppend("list-6", 0, [created(6)], [event_id])], META)


async def test_reader_never_skips_a_slow_transaction_that_commits_late(
    fresh_database_url: str,
) -> None:
    slow = await connect(fresh_database_url)
    fast = await connect(fresh_database_url)
    reader = await connect(fresh_database_url)
    try:
        await slow.execute("BEGIN")
        await append(slow, [StreamAppend("list-100", 0, [created(100)])], META)  # lower tx_id, open
        async with fast.transaction():
            await append(fast, [StreamAppend("list-101", 0, [created(101)])], META)
        # The fast one committed, but the slow one is still open with an earlier tx id:
        # a reader must not move past it.
        seen = await read_all(reader, START)
        assert seen == []
        await slow.execute("COMMIT")
        seen = await read_all_once_visible(reader, 2)
        assert [e.stream_id for e in seen] == ["list-100", "list-101"]
    finally:
        for c in (slow, fast, reader):
            await c.close()


async def test_concurrent_appends_to_distinct_streams_all_land(fresh_database_url: str) -> None:
    async def writer(n: int) -> None:
        async with await connect(fresh_database_url) as conn:
            for i in range(10):
                sid = 1000 + n * 100 + i
                async with conn.transaction():
                    await append(conn, [StreamAppend(f"list-{sid}", 0, [created(sid)])], META)

    await asyncio.gather(*(writer(n) for n in range(8)))
    async with await connect(fresh_database_url) as conn:
        events = await read_all_once_visible(conn, 80)
        assert len(events) == 80
        positions = [e.position for e in events]
        assert positions == sorted(positions)


async def test_an_event_postgres_or_nats_cannot_take_is_refused_and_nothing_is_written(
        fresh_database_url: str) -> None:
    """The store is the boundary's last guard: a NUL anywhere in an event's data, or an event
    above the size limit, raises before the INSERT, so the append (every stream of it) is
    not written and the caller's transaction can still commit its other work."""
    async with await connect(fresh_database_url) as conn:
        nul = ListCreated(list_id=9, uuid=str(uuid.uuid4()), name="a\x00b",
                          list_type="public", optin="single", at=NOW)
        big = ListCreated(list_id=10, uuid=str(uuid.uuid4()), name="big", list_type="public",
                          optin="single", description="x" * 1_000_001, at=NOW)
        with pytest.raises(InvalidText, match=r"invalid list\.created: it contains a NUL"):
            async with conn.transaction():
                await append(conn, [StreamAppend("list-8", 0, [created(8)]),
                                    StreamAppend("list-9", 0, [nul])], META)
        with pytest.raises(EventTooLarge, match="the limit is 1000000"):
            async with conn.transaction():
                await append(conn, [StreamAppend("list-10", 0, [big])], META)
        text_nul = ListCreated(list_id=11, uuid=str(uuid.uuid4()), name="back\\u0000slash",
                               list_type="public", optin="single", at=NOW)
        async with conn.transaction():
            await append(conn, [StreamAppend("list-11", 0, [text_nul])], META)
        assert [e.stream_id for e in await read_all_once_visible(conn, 1)] == ["list-11"]
        assert (await read_stream(conn, "list-11"))[0].data["name"] == "back\\u0000slash"
