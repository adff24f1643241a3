"""The sender's recipient readers against PostgreSQL: ``first_ids`` reads in doubling id
windows and must return exactly what one query over the whole range returns (the first
``limit`` eligible ids in order), for dense and sparse lists, several lists, double opt-in,
blocklisted subscribers and any range; and ``recipient_pages`` pages through a range."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from kernel.settings import Settings
from projections.registry import ensure_read_models
from services.sender.recipients import _IDS, Audience, first_ids, recipient_pages

NOW = datetime(2026, 12, 5, tzinfo=UTC)
SPACING = 13
TOP = 600 * SPACING


async def _seed(conn: psycopg.AsyncConnection[Any], rng: random.Random) -> None:
    """600 subscribers with ids 13 apart (so the readers' id windows, at least 1,024 ids
    wide, split the range); list 1 has nearly everyone, list 2 one in 40 (sparse), list 3 is
    double opt-in with mixed statuses; some subscribers are blocklisted."""
    subs, subscriptions = [], []
    for n in range(1, 601):
        sid = n * SPACING
        status = "blocklisted" if rng.random() < 0.05 else "enabled"
        subs.append((sid, f"00000000-0000-4000-8000-{sid:012d}", f"s{sid}@example.org",
                     f"S {sid}", status, NOW, NOW))
        if rng.random() < 0.9:
            subscriptions.append((sid, 1, rng.choice(["unconfirmed", "confirmed", "confirmed",
                                                      "unsubscribed"]), NOW, NOW))
        if n % 40 == 0:
            subscriptions.append((sid, 2, "unconfirmed", NOW, NOW))
        if rng.random() < 0.3:
            subscriptions.append((sid, 3, rng.choice(["unconfirmed", "confirmed"]), NOW, NOW))
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO readmodel.subscribers (id, uuid, email, name, status, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)", subs)
        await cur.executemany(
            "INSERT INTO readmodel.subscriber_lists (subscriber_id, list_id, status, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s)", subscriptions)


async def _whole_range(conn: psycopg.AsyncConnection[Any], audience: Audience, after: int,
                       upto: int, limit: int) -> list[int]:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        _IDS, audience.params(after, upto, limit))
    return [int(r[0]) for r in await cur.fetchall()]


AUDIENCES = [
    Audience({1: "single"}),
    Audience({2: "single"}),
    Audience({3: "double"}),
    Audience({1: "single", 2: "single", 3: "double"}),
    Audience({3: "double"}, campaign_type="optin"),
    Audience({}),
]


@pytest.mark.parametrize("audience", AUDIENCES, ids=lambda a: repr(dict(a.list_optins)))
async def test_first_ids_in_windows_equals_one_query(
        iso_settings: Settings, pool: AsyncConnectionPool[Any], audience: Audience) -> None:
    await ensure_read_models(iso_settings)
    rng = random.Random(7)
    async with pool.connection() as conn:
        await _seed(conn, rng)
        for after, upto, limit in [(0, TOP, 10), (0, TOP, 1000), (0, TOP, 1), (0, TOP, 300),
                                   (370, 4100, 25), (TOP - 20, TOP, 5), (TOP, TOP, 5),
                                   (0, 2000, 700), (5000, TOP, 200),
                                   *[(rng.randint(0, TOP), TOP, rng.randint(1, 300))
                                     for _ in range(20)]]:
            expected = await _whole_range(conn, audience, after, upto, limit) \
                if audience.list_optins else []
            got = await first_ids(conn, audience, after, upto, limit)
            assert got == expected, (after, upto, limit)


async def test_recipient_pages_cover_the_range_in_order(
        iso_settings: Settings, pool: AsyncConnectionPool[Any]) -> None:
    await ensure_read_models(iso_settings)
    audience = Audience({1: "single", 2: "single"})
    async with pool.connection() as conn:
        await _seed(conn, random.Random(11))
        expected = await _whole_range(conn, audience, 650, 6240, 10_000)
    seen = [row.id async for page in recipient_pages(pool.connection, audience, 650, 6240, 7)
            for row in page]
    assert seen == expected
    assert seen and all(650 < i <= 6240 for i in seen)
