"""Sandboxed expressions run for real against listmonk-shaped read models, as postlog_reader,
in a READ ONLY transaction with a statement timeout."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg import sql

from readmodels.sandbox import QueryRefused, render_where, sandboxed
from tests.unit.test_query_sandbox import ACCEPTED

SCHEMA = [
    "CREATE TABLE readmodel.subscribers (id integer PRIMARY KEY, uuid uuid NOT NULL UNIQUE,"
    " email text NOT NULL UNIQUE, name text NOT NULL, attribs jsonb NOT NULL DEFAULT '{}',"
    " status text NOT NULL DEFAULT 'enabled', created_at timestamptz NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE readmodel.lists (id integer PRIMARY KEY, uuid uuid NOT NULL UNIQUE,"
    " name text NOT NULL, type text NOT NULL DEFAULT 'public',"
    " optin text NOT NULL DEFAULT 'single', status text NOT NULL DEFAULT 'active',"
    " tags text[] NOT NULL DEFAULT '{}', description text NOT NULL DEFAULT '',"
    " created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE readmodel.subscriber_lists (subscriber_id integer NOT NULL,"
    " list_id integer NOT NULL, meta jsonb NOT NULL DEFAULT '{}',"
    " status text NOT NULL DEFAULT 'unconfirmed', created_at timestamptz NOT NULL DEFAULT now(),"
    " updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (subscriber_id, list_id))",
    "CREATE TABLE readmodel.campaign_views (id bigint PRIMARY KEY, campaign_id integer NOT NULL,"
    " subscriber_id integer, created_at timestamptz NOT NULL DEFAULT now())",
    "GRANT SELECT ON ALL TABLES IN SCHEMA readmodel TO postlog_reader",
]

SUBSCRIBERS = [
    (1, "ana@example.com", "Ana", '{"city": "Bengaluru", "projects": 5,'
     ' "stack": {"languages": ["go", "python"]}}', "enabled", "2023-06-01T10:00:00Z"),
    (2, "bob@example.com", "Bob", '{"city": "Berlin", "projects": 1, "tags": ["vip"]}',
     "blocklisted", "2024-03-01T10:00:00Z"),
    (3, "cy@example.com", "Cy 100%", '{"": "empty-key"}', "enabled", "2024-05-01T10:00:00Z"),
    (4, "dee@example.com", "Dee\\Back", "{}", "disabled", "2024-07-01T10:00:00Z"),
]
SUBSCRIPTIONS = [(1, 1, "confirmed"), (2, 1, "unsubscribed"), (3, 2, "confirmed"),
                 (1, 2, "unconfirmed")]

# (expression, ids of the subscribers it selects)
CASES: list[tuple[str, list[int]]] = [
    ("subscribers.email='ana@example.com'", [1]),
    ("subscribers.id=2", [2]),
    ("subscribers.attribs->>'city' = 'Bengaluru'", [1]),
    ("(subscribers.attribs->>'projects')::int > 3", [1]),
    ("subscribers.attribs->'stack'->'languages' ? 'python'", [1]),
    ("subscribers.attribs @> '{\"tags\": [\"vip\"]}'", [2]),
    ("attribs->>'' = 'empty-key'", [3]),
    ("subscribers.name LIKE '%100\\%'", [3]),
    ("name = 'Dee\\Back'", [4]),
    ("lower(email) LIKE 'b%' OR name ILIKE 'ANA'", [1, 2]),
    ("subscribers.id IN (SELECT subscriber_id FROM subscriber_lists"
     " WHERE list_id = 1 AND status = 'confirmed')", [1]),
    ("EXISTS (SELECT 1 FROM subscriber_lists sl JOIN lists l ON l.id = sl.list_id"
     " WHERE sl.subscriber_id = subscribers.id AND l.name = 'Other')", [1, 3]),
    ("(SELECT count(*) FROM subscriber_lists WHERE subscriber_id = subscribers.id) > 1", [1]),
    ("created_at >= '2024-01-01' AND status <> 'blocklisted'", [3, 4]),
    ("extract(year from created_at) = 2023", [1]),
    ("created_at < now() - interval '30 days'", [1, 2, 3, 4]),
    ("id % 2 = 0", [2, 4]),
    ("id = ANY(ARRAY[1, 3]) AND NOT status = 'disabled'", [1, 3]),
    ("coalesce(attribs->>'city', 'nowhere') = 'nowhere'", [3, 4]),
    ("id BETWEEN 2 AND 3", [2, 3]),
    ("name || 'ü%' = 'Anaü%'", [1]),
    ("EXISTS(SELECT 1 FROM campaign_views WHERE campaign_views.subscriber_id=subscribers.id"
     " AND campaign_views.campaign_id=7)", [2]),
]


@pytest.fixture
async def reader(fresh_database_url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A connection like the query pool's (autocommit, postlog_reader) over seeded tables."""
    async with await psycopg.AsyncConnection.connect(fresh_database_url,
                                                     autocommit=True) as owner:
        for statement in SCHEMA:
            await owner.execute(statement)
        async with owner.cursor() as cur:
            await cur.executemany(
                "INSERT INTO readmodel.subscribers (id, uuid, email, name, attribs, status,"
                " created_at) VALUES (%s, gen_random_uuid(), %s, %s, %s::jsonb, %s, %s)",
                SUBSCRIBERS)
            await cur.execute(
                "INSERT INTO readmodel.lists (id, uuid, name) VALUES"
                " (1, gen_random_uuid(), 'News'), (2, gen_random_uuid(), 'Other')")
            # Enough rows that a three-way cross join cannot finish inside the timeout.
            await cur.execute(
                "INSERT INTO readmodel.lists (id, uuid, name) SELECT n, gen_random_uuid(),"
                " 'bulk-' || n FROM generate_series(100, 3100) AS n")
            await cur.execute("INSERT INTO readmodel.campaign_views (id, campaign_id,"
                              " subscriber_id) VALUES (1, 7, 2), (2, 8, 1)")
            await cur.executemany(
                "INSERT INTO readmodel.subscriber_lists (subscriber_id, list_id, status)"
                " VALUES (%s, %s, %s)", SUBSCRIPTIONS)
    async with await psycopg.AsyncConnection.connect(fresh_database_url,
                                                     autocommit=True) as conn:
        await conn.execute("SET ROLE postlog_reader")
        yield conn


async def matching_ids(conn: psycopg.AsyncConnection[Any], expression: str,
                       limit: timedelta = timedelta(seconds=2)) -> list[int]:
    """Run the expression the way the subscribers endpoint will: spliced, with parameters."""
    query = sql.SQL(
        "SELECT subscribers.id FROM readmodel.subscribers"
        " WHERE subscribers.id > %s AND ({}) ORDER BY subscribers.id"
    ).format(sql.SQL(render_where(expression)))
    async with sandboxed(conn, statement_timeout=limit):
        cur = await conn.execute(query, [0])
        return [row[0] for row in await cur.fetchall()]


async def test_accepted_expressions_select_the_right_subscribers(
        reader: psycopg.AsyncConnection[Any]) -> None:
    wrong = {}
    for expression, expected in CASES:
        got = await matching_ids(reader, expression)
        if got != expected:
            wrong[expression] = (got, expected)
    assert wrong == {}


async def test_every_expression_the_unit_tests_accept_is_valid_postgres(
        reader: psycopg.AsyncConnection[Any]) -> None:
    failed = {}
    for expression, _ in ACCEPTED:
        try:
            await matching_ids(reader, expression)
        except QueryRefused as refused:
            failed[expression] = refused.reason
    assert failed == {}


async def test_an_expensive_expression_is_cut_off_by_the_timeout(
        reader: psycopg.AsyncConnection[Any]) -> None:
    expensive = ("EXISTS (SELECT 1 FROM lists a, lists b, lists c"
                 " WHERE a.name || b.name || c.name = 'never')")
    with pytest.raises(QueryRefused, match="took longer than 1000 ms and was cancelled"):
        await matching_ids(reader, expensive, timedelta(seconds=1))
    # The connection is usable afterwards, and the setting did not outlive the transaction.
    assert await matching_ids(reader, "id = 1") == [1]
    cur = await reader.execute("SHOW statement_timeout")
    assert (await cur.fetchone()) == ("0",)


async def test_errors_the_expression_causes_at_run_time_are_refusals(
        reader: psycopg.AsyncConnection[Any]) -> None:
    with pytest.raises(QueryRefused, match="query failed: invalid input syntax for type integer"):
        await matching_ids(reader, "(attribs->>'city')::int > 1")
    with pytest.raises(QueryRefused, match="query failed: more than one row returned"):
        await matching_ids(reader, "id = (SELECT subscriber_id FROM subscriber_lists)")


async def test_the_sandbox_transaction_is_read_only(
        reader: psycopg.AsyncConnection[Any]) -> None:
    async with sandboxed(reader):
        cur = await reader.execute("SELECT current_setting('transaction_read_only'),"
                                   " current_setting('search_path'), current_user")
        assert await cur.fetchone() == ("on", "pg_catalog", "postlog_reader")
