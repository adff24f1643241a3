"""The projection runner against real Postgres and NATS: catch-up, live feed, gaps, duplicates,
crashes between commit and acknowledgement, outages, a faulty projection, the waiter, status."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from nats.js import JetStreamContext
from psycopg_pool import AsyncConnectionPool

from events.relay import Relay
from events.store import START
from kernel.metrics import Metrics
from kernel.nats import connect, ensure_stream
from kernel.settings import Settings
from projections.isolation import QUARANTINE_AFTER
from projections.lists import ListsProjection
from projections.status import format_status_table, projection_status
from projections.waiter import ProjectionWaiter
from tests.integration.projection_support import (
    ListBook,
    append_lists,
    append_one,
    at,
    checkpoint,
    consumers,
    created,
    eventually,
    kill_connections,
    notify_appended,
    plant,
    publish_log,
    running,
    table_rows,
)

# Only the NATS feed may deliver live events in tests that say so: no Postgres fallback soon.
NATS_ONLY: dict[str, Any] = {"idle_catch_up": 120.0, "notify_grace": 120.0}


class SimulatedCrash(BaseException):
    """Ends the runner the way a killed process would (not caught by its error handling)."""


@pytest.fixture
async def js(iso_settings: Settings) -> AsyncIterator[JetStreamContext]:
    nc = await connect(iso_settings, "test-relay")
    stream = nc.jetstream()
    await ensure_stream(stream, iso_settings)
    yield stream
    await stream.delete_stream(iso_settings.stream_name)
    await nc.close()


async def test_catches_up_from_postgres_then_follows_the_nats_feed(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    book, metrics = ListBook(), Metrics()
    head = await append_lists(pool, range(1, 21))
    async with running(iso_settings, pool, [book], metrics=metrics, **NATS_ONLY):
        await eventually(at(pool, [book.name], head))
        assert len(await table_rows(pool, book.rows)) == 20
        await eventually(lambda: _has_consumer(js, iso_settings))
        head = await append_lists(pool, range(21, 31), updates=1)
        await publish_log(js, iso_settings, pool, head)
        await eventually(at(pool, [book.name], head))
    rows = await table_rows(pool, book.rows)
    assert [r[0] for r in rows] == list(range(1, 31))
    assert rows[-1][1:3] == ("list 30 v0", 2)
    assert await table_rows(pool, book.totals) == [("list.created", 30), ("list.updated", 10)]
    assert metrics.projection_events_applied_total[book.name] == 40


async def test_a_stale_feed_is_paused_and_the_log_read_from_postgres(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    """When the feed delivers old events (a relay far behind), the runner unsubscribes and
    reads the rest from Postgres instead of waiting for NATS: here the feed never carries
    events 4-10, and the runner would not poll Postgres on its own for two minutes."""
    book = ListBook()
    async with running(iso_settings, pool, [book], stale_after=2.0, stale_pause=60.0,
                       **NATS_ONLY):
        await eventually(lambda: _has_consumer(js, iso_settings))
        third = await append_lists(pool, range(1, 4))
        head = await append_lists(pool, range(4, 11))
        async with pool.connection() as conn, conn.transaction():  # as if recorded an hour ago
            await conn.execute("SET LOCAL session_replication_role = replica")  # append-only
            await conn.execute("UPDATE eventlog.events SET recorded_at = now() - interval '1h'")
        await publish_log(js, iso_settings, pool, third)
        await eventually(at(pool, [book.name], head))
        assert await consumers(js, iso_settings) == 0  # paused: no subscription meanwhile
    assert [r[0] for r in await table_rows(pool, book.rows)] == list(range(1, 11))


async def test_a_feed_trailing_the_runner_is_paused(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    """Messages for events the runner already read from Postgres are acknowledged unread; a
    feed that delivers only those (a relay catching up) is paused rather than drained."""
    book = ListBook()
    head = await append_lists(pool, range(1, 151))
    async with running(iso_settings, pool, [book], **NATS_ONLY):
        await eventually(at(pool, [book.name], head))  # read from Postgres when starting
        await eventually(lambda: _has_consumer(js, iso_settings))
        await publish_log(js, iso_settings, pool, head)  # 150 events it already has
        await eventually(lambda: _no_consumer(js, iso_settings))
    assert len(await table_rows(pool, book.rows)) == 150


async def _no_consumer(js: JetStreamContext, settings: Settings) -> bool:
    return await consumers(js, settings) == 0


async def test_follows_the_relay_through_nats(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    book, metrics, stop = ListBook(), Metrics(), asyncio.Event()
    relay = asyncio.create_task(Relay(iso_settings, pool, Metrics(), poll_interval=60).run(stop))
    try:
        async with running(iso_settings, pool, [book], metrics=metrics, **NATS_ONLY):
            await eventually(lambda: _has_consumer(js, iso_settings))
            head = await append_lists(pool, range(1, 51), updates=1)
            await notify_appended(pool)  # wakes the relay (the runner only listens to NATS here)
            await eventually(at(pool, [book.name], head))
    finally:
        stop.set()
        await relay
    assert await table_rows(pool, book.totals) == [("list.created", 50), ("list.updated", 50)]
    assert metrics.projection_events_applied_total[book.name] == 100


async def test_an_event_published_by_reference_is_read_from_postgres(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    """A list created with a 1.2 MB description is too large for NATS: the relay publishes it
    by reference and goes on; the runner, following NATS only, reads that event from Postgres
    and applies it and everything after it."""
    lists, relay_metrics, stop = ListsProjection(), Metrics(), asyncio.Event()
    relay = asyncio.create_task(Relay(iso_settings, pool, relay_metrics, poll_interval=0.5)
                                .run(stop))
    try:
        async with running(iso_settings, pool, [lists], **NATS_ONLY):
            await eventually(lambda: _has_consumer(js, iso_settings))
            await append_lists(pool, [1])
            await plant(pool, "list-2", "list.created", {
                "list_id": 2, "uuid": str(uuid.uuid4()), "name": "big", "list_type": "public",
                "optin": "single", "at": "2024-01-01T00:00:00Z", "description": "d" * 1_200_000})
            head = await append_lists(pool, [3, 4])
            await eventually(at(pool, [lists.name], head))
    finally:
        stop.set()
        await relay
    assert relay_metrics.relay_events_by_reference_total == 1
    rows = await table_rows(pool, "lists")
    assert [(r[0], r[2], len(r[7])) for r in rows] == [
        (1, "list 1", 0), (2, "big", 1_200_000), (3, "list 3", 0), (4, "list 4", 0)]


async def test_a_gap_in_the_feed_is_filled_from_postgres(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    book = ListBook()
    async with running(iso_settings, pool, [book], **NATS_ONLY):
        await eventually(lambda: _has_consumer(js, iso_settings))
        missed = await append_lists(pool, range(1, 6))
        head = await append_lists(pool, range(6, 9))
        await publish_log(js, iso_settings, pool, head, only_after=missed)  # 1-5 unpublished
        await eventually(at(pool, [book.name], head))
    assert [r[0] for r in await table_rows(pool, book.rows)] == list(range(1, 9))
    assert await table_rows(pool, book.totals) == [("list.created", 8)]


async def test_duplicates_in_the_stream_are_applied_once(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    book = ListBook()
    async with running(iso_settings, pool, [book], **NATS_ONLY):
        await eventually(lambda: _has_consumer(js, iso_settings))
        head = await append_lists(pool, range(1, 11))
        await publish_log(js, iso_settings, pool, head)
        await publish_log(js, iso_settings, pool, head, fresh_ids=True)  # the whole log again
        head = await append_lists(pool, [11])
        await publish_log(js, iso_settings, pool, head, fresh_ids=True)  # once more, with 11
        await eventually(at(pool, [book.name], head))
    assert await table_rows(pool, book.totals) == [("list.created", 11)]


async def test_a_crash_between_commit_and_ack_leaves_the_same_read_model(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    crashing, steady = ListBook("crashing"), ListBook("steady")
    crashes: list[str] = []

    async def crash_once(source: str) -> None:
        if source == "nats" and not crashes:
            crashes.append(source)
            raise SimulatedCrash

    async with running(iso_settings, pool, [steady], **NATS_ONLY):
        async with running(iso_settings, pool, [crashing], after_commit=crash_once,
                           **NATS_ONLY) as doomed:
            await eventually(lambda: _has_consumer(js, iso_settings, 2))
            head = await append_lists(pool, range(1, 11), updates=2)
            await publish_log(js, iso_settings, pool, head)
            with pytest.raises(SimulatedCrash):
                await asyncio.wait_for(doomed, 20)
        assert crashes == ["nats"]
        committed = await checkpoint(pool, crashing.name)
        assert committed is not None and committed > START  # it died after its commit
        head = await append_lists(pool, range(11, 16), delete=True)
        await publish_log(js, iso_settings, pool, head, fresh_ids=True)  # everything again
        async with running(iso_settings, pool, [crashing], **NATS_ONLY):
            await eventually(at(pool, [crashing.name, steady.name], head))
    assert await table_rows(pool, crashing.rows) == await table_rows(pool, steady.rows)
    assert await table_rows(pool, crashing.totals) == await table_rows(pool, steady.totals)
    assert await table_rows(pool, steady.totals) == [
        ("list.created", 15), ("list.deleted", 5), ("list.updated", 20)]


async def test_without_nats_it_follows_postgres(
    iso_settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    no_nats = iso_settings.model_copy(update={"nats_url": "nats://127.0.0.1:1"})
    book = ListBook()
    async with running(no_nats, pool, [book]) as task:
        head = await append_lists(pool, range(1, 4))
        await notify_appended(pool)
        await eventually(at(pool, [book.name], head), within=5)
        assert not task.done()
    assert len(await table_rows(pool, book.rows)) == 3


async def test_a_lost_consumer_is_noticed_and_replaced(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], js: JetStreamContext
) -> None:
    book = ListBook()
    async with running(iso_settings, pool, [book], notify_grace=0.1) as task:
        await eventually(lambda: _has_consumer(js, iso_settings))
        for name in await js.consumers_info(iso_settings.stream_name):
            await js.delete_consumer(iso_settings.stream_name, name.name)
        head = await append_lists(pool, range(1, 4))
        await notify_appended(pool)  # nothing arrives on NATS: Postgres fills in
        await eventually(at(pool, [book.name], head))
        await eventually(lambda: _has_consumer(js, iso_settings))
        assert not task.done()


async def test_survives_its_database_connections_being_killed(
    iso_settings: Settings, pool: AsyncConnectionPool[Any], admin_pg_url: str
) -> None:
    book = ListBook()
    async with running(iso_settings, pool, [book]) as task:
        head = await append_lists(pool, range(1, 4))
        await eventually(at(pool, [book.name], head))
        assert await kill_connections(admin_pg_url, iso_settings.database_url or "") > 0
        await pool.check()
        head = await append_lists(pool, range(4, 8))
        await notify_appended(pool)
        await eventually(at(pool, [book.name], head))
        assert not task.done()
    assert await table_rows(pool, book.totals) == [("list.created", 7)]


async def test_a_failing_event_is_quarantined_and_the_projection_goes_on(
    iso_settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    """Its SQL fails for one event (a NULL into a NOT NULL column): that projection alone
    retries it a few times, then quarantines it and goes on; the other never waits."""
    good, bad = ListBook("good"), ListBook("bad", poisonable=True)
    async with running(iso_settings, pool, [good, bad]):
        await append_lists(pool, [1, 2])
        await append_one(pool, created(3, "poison"), "list-3")
        head = await append_lists(pool, [4])
        await notify_appended(pool)
        await eventually(at(pool, [good.name, bad.name], head))
        rows = await projection_status(pool, [good, bad])
    assert [r[0] for r in await table_rows(pool, bad.rows)] == [1, 2, 4]
    assert [r[0] for r in await table_rows(pool, good.rows)] == [1, 2, 3, 4]
    assert [(r.name, r.lag_events, r.quarantined) for r in rows] == [
        ("good", 0, 0), ("bad", 0, 1)]


async def test_a_projection_whose_tables_do_not_match_its_code_stalls_alone(
    iso_settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    """A fault of the projection as a whole (a column its SQL writes is missing) is not the
    events' fault: that projection stops before the first event and quarantines nothing,
    the other goes on."""
    good, bad, metrics = ListBook("good"), ListBook("bad"), Metrics()
    async with running(iso_settings, pool, [good, bad], metrics=metrics):
        before = await append_lists(pool, [1, 2])
        await eventually(at(pool, [good.name, bad.name], before))
        async with pool.connection() as conn:
            await conn.execute("ALTER TABLE readmodel.bad_rows DROP COLUMN touched")
        head = await append_lists(pool, [3, 4])
        await notify_appended(pool)
        await eventually(at(pool, [good.name], head))
        # More attempts than an event fault gets before its quarantine (2 s and 4 s apart).
        await eventually(lambda: _failures(metrics, bad.name, QUARANTINE_AFTER))
        rows = await projection_status(pool, [good, bad])
    assert await checkpoint(pool, bad.name) == before
    assert [r[0] for r in await table_rows(pool, good.rows)] == [1, 2, 3, 4]
    assert [(r.name, r.lag_events, r.quarantined) for r in rows] == [
        ("good", 0, 0), ("bad", 2, 0)]


async def _failures(metrics: Metrics, name: str, count: int) -> bool:
    return metrics.projection_failures_total[name] >= count


async def test_status_shows_position_and_lag(
    iso_settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    book = ListBook()
    head = await append_lists(pool, range(1, 6))
    (before,) = await projection_status(pool, [book])
    assert (before.position, before.head, before.lag_events, before.updated_at) == (
        START, head, 5, None)
    async with running(iso_settings, pool, [book]):
        await eventually(at(pool, [book.name], head))
    (after,) = await projection_status(pool, [book])
    assert (after.position, after.lag_events, after.lag_seconds) == (head, 0, 0.0)
    assert after.updated_at is not None
    table = format_status_table([after])
    assert table.splitlines()[0].split()[0] == "PROJECTION"
    assert table.splitlines()[1].split()[:2] == ["book", str(head)]


async def test_waiter_answers_when_the_projection_commits(
    iso_settings: Settings, pool: AsyncConnectionPool[Any]
) -> None:
    book = ListBook()
    waiter = ProjectionWaiter(pool, timeout=10)
    try:
        head = await append_lists(pool, [1])
        assert not await ProjectionWaiter(pool, timeout=0.2).wait(head, [book.name])
        waiting = asyncio.create_task(waiter.wait(head, [book.name]))
        no_nats = iso_settings.model_copy(update={"nats_url": "nats://127.0.0.1:1"})
        async with running(no_nats, pool, [book]):
            assert await asyncio.wait_for(waiting, 10)
            # Once the listener is up, a commit wakes the waiter before any poll would.
            await eventually(lambda: _listening(waiter))
            head = await append_lists(pool, [2])
            started = time.monotonic()
            await notify_appended(pool)
            assert await waiter.wait(head, [book.name])
            assert time.monotonic() - started < 0.45
    finally:
        await waiter.close()


async def _has_consumer(js: JetStreamContext, settings: Settings, count: int = 1) -> bool:
    return await consumers(js, settings) >= count


async def _listening(waiter: ProjectionWaiter) -> bool:
    listener = waiter._listener
    return listener is not None and listener.healthy
