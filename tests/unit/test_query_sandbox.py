"""The subscriber query sandbox accepts what listmonk clients send and refuses the rest, with
a reason naming what was refused (no I/O: parsing and rendering only)."""

from __future__ import annotations

import pytest
import sqlglot

from readmodels.sandbox import (
    QueryRefused,
    SandboxPostgres,
    render_where,
    validate_query,
)
from readmodels.sandbox_rules import LISTMONK_OUTER

# Expressions real clients send (listmonk's docs, its UI, API scripts), each with the SQL the
# sandbox runs for it where that is worth pinning down.
ACCEPTED: list[tuple[str, str | None]] = [
    ("subscribers.email='a@b.c'", "\"subscribers\".\"email\" = 'a@b.c'"),
    ("subscribers.id=5", '"subscribers"."id" = 5'),
    ("subscribers.uuid='a5a8e1b6-5d4b-4a24-9c0a-1b2c3d4e5f60'", None),
    ("subscribers.attribs->>'city' = 'Bengaluru'",
     "\"subscribers\".\"attribs\" ->> 'city' = 'Bengaluru'"),
    ("subscribers.name LIKE 'Test%'", "\"subscribers\".\"name\" LIKE E'Test\\x25'"),
    ("subscribers.email LIKE '%@domain.com'", None),
    ("subscribers.email ILIKE '%@EXAMPLE.com'", None),
    ("subscribers.email LIKE 'John%' AND subscribers.status = 'blocklisted'", None),
    ("subscribers.attribs->>'city' = 'Bengaluru' AND (subscribers.attribs->>'projects')::INT > 3",
     None),
    ("subscribers.status = 'blocklisted' AND (subscribers.attribs->>'likes_tea')::BOOLEAN = true"
     " AND subscribers.attribs->'stack'->'languages' ? 'python'"
     " AND subscribers.attribs->'stack'->>'preferred_language' = 'go'", None),
    ("email = 'x'", "\"subscribers\".\"email\" = 'x'"),
    ("status = 'enabled'", "\"subscribers\".\"status\" = 'enabled'"),
    ("NOT (name = 'a' OR name = 'b')", None),
    ("subscribers.id IN (1, 2, 3)", '"subscribers"."id" IN (1, 2, 3)'),
    ("subscribers.id NOT IN (4, 5)", None),
    ("subscribers.name IS NULL", None),
    ("subscribers.attribs->>'city' IS NOT NULL", None),
    ("(subscribers.attribs->>'age')::int > 30",
     "CAST((\"subscribers\".\"attribs\" ->> 'age') AS INT) > 30"),
    ("(attribs->>'score')::numeric(10,2) >= 1.5", None),
    ("(attribs->>'born')::date < '2000-01-01'", None),
    ("subscribers.created_at > '2024-01-01'", None),
    ("subscribers.updated_at::date = current_date", None),
    ("subscribers.created_at > now() - interval '7 days'",
     "\"subscribers\".\"created_at\" > CURRENT_TIMESTAMP - CAST('7 days' AS INTERVAL)"),
    ("created_at > now() - '1 month'::interval", None),
    ("subscribers.attribs @> '{\"a\":1}'", "\"subscribers\".\"attribs\" @> '{\"a\":1}'"),
    ("subscribers.attribs <@ '{\"a\":1,\"b\":2}'::jsonb", None),
    ("subscribers.attribs ? 'city'", "\"subscribers\".\"attribs\" ? 'city'"),
    ("subscribers.attribs ?| ARRAY['a', 'b']", None),
    ("subscribers.attribs ?& '{a,b}'", None),
    ("subscribers.attribs #>> '{stack,preferred_language}' = 'go'", None),
    ("subscribers.attribs->'tags' @> '[\"vip\"]'", None),
    ("subscribers.id BETWEEN 10 AND 20", None),
    ("subscribers.id % 2 = 0 AND subscribers.id * 2 + 1 > 3", None),
    ("lower(subscribers.email) = 'a@b.c'", None),
    ("upper(name) = 'JOHN'", None),
    ("coalesce(attribs->>'plan', 'free') = 'free'", None),
    ("length(trim(name)) > 2", None),
    ("date_trunc('month', created_at) = '2024-01-01'", None),
    ("extract(year from created_at) = 2024", None),
    ("date_part('dow', created_at) = 1", None),
    ("jsonb_array_length(attribs->'tags') > 1", None),
    ("subscribers.id IN (SELECT subscriber_id FROM subscriber_lists WHERE list_id=1)",
     '"subscribers"."id" IN (SELECT "subscriber_lists"."subscriber_id"'
     ' FROM "readmodel"."subscriber_lists" WHERE "subscriber_lists"."list_id" = 1)'),
    ("EXISTS (SELECT 1 FROM subscriber_lists sl WHERE sl.subscriber_id = subscribers.id"
     " AND sl.status = 'confirmed')", None),
    ("subscribers.id IN (SELECT subscriber_id FROM subscriber_lists"
     " JOIN lists ON lists.id = subscriber_lists.list_id WHERE lists.name = 'News')", None),
    ("(SELECT count(*) FROM subscriber_lists WHERE subscriber_id = subscribers.id) > 2", None),
    ("subscribers.id IN (SELECT subscriber_id FROM readmodel.subscriber_lists"
     " GROUP BY subscriber_id HAVING count(*) > 1)", None),
    ("subscribers.name ~* '^jo'", None),
    ("EXISTS(SELECT 1 FROM campaign_views WHERE campaign_views.subscriber_id=subscribers.id"
     " AND campaign_views.campaign_id=7)", None),
    ("name IS DISTINCT FROM 'x'", None),
    ("CASE WHEN id > 10 THEN true ELSE false END", None),
    ("subscribers.id = ANY(ARRAY[1, 2])", None),
    ("SUBSCRIBERS.EMAIL = 'x'", "\"subscribers\".\"email\" = 'x'"),
    ("\"subscribers\".\"email\" = 'x'", "\"subscribers\".\"email\" = 'x'"),
    ("readmodel.subscribers.email = 'x'", "\"subscribers\".\"email\" = 'x'"),
    ("name = 'it''s'", "\"subscribers\".\"name\" = 'it''s'"),
    ("name = 'back\\slash'", "\"subscribers\".\"name\" = E'back\\\\slash'"),
]

# Hostile or off-whitelist expressions, each with a part of the reason given for refusing it.
REFUSED: list[tuple[str, str]] = [
    ("1=1; DROP TABLE subscribers", "only one expression is allowed"),
    ("subscribers.id = 1;", "only one expression is allowed"),
    ("DROP TABLE subscribers", "DROP statements are not allowed"),
    ("DELETE FROM subscribers", "DELETE statements are not allowed"),
    ("UPDATE subscribers SET status = 'blocklisted'", "UPDATE statements are not allowed"),
    ("INSERT INTO subscribers (email) VALUES ('x')", "INSERT statements are not allowed"),
    ("CREATE TABLE x (a int)", "CREATE statements are not allowed"),
    ("ALTER TABLE subscribers ADD COLUMN x int", "ALTER statements are not allowed"),
    ("TRUNCATE subscribers", "TRUNCATE statements are not allowed"),
    ("GRANT ALL ON subscribers TO public", "GRANT statements are not allowed"),
    ("COPY subscribers TO '/tmp/x'", "COPY statements are not allowed"),
    ("SELECT * FROM subscribers", "SELECT statements are not allowed"),
    ("pg_sleep(10) IS NULL", "function pg_sleep is not allowed"),
    ("(SELECT pg_sleep(10)) IS NULL", "function pg_sleep is not allowed"),
    ("set_config('statement_timeout', '0', false) = ''", "function set_config is not allowed"),
    ("current_setting('is_superuser') = 'on'", "function current_setting is not allowed"),
    ("lo_import('/etc/passwd') > 0", "function lo_import is not allowed"),
    ("dblink('host=x', 'select 1') IS NULL", "function dblink is not allowed"),
    ("pg_read_file('/etc/passwd') <> ''", "function pg_read_file is not allowed"),
    ("version() <> ''", "function version is not allowed"),
    ("current_user = 'postgres'", "function current_user is not allowed"),
    ("repeat('x', 1000000000) = name", "function repeat is not allowed"),
    ("pg_catalog.lower(name) = 'x'", "qualified name pg_catalog.lower"),
    ("subscribers.id IN (SELECT usesysid FROM pg_user)", "table pg_user is not allowed"),
    ("pg_user.usename = 'x'", "table pg_user is not allowed"),
    ("id IN (SELECT 1 FROM pg_catalog.pg_class)", "schema pg_catalog is not allowed"),
    ("id IN (SELECT 1 FROM information_schema.tables)",
     "schema information_schema is not allowed"),
    ("id IN (SELECT 1 FROM eventlog.events)", "schema eventlog is not allowed"),
    ("id IN (SELECT 1 FROM readmodel.projection_checkpoints)",
     "table projection_checkpoints is not allowed"),
    ("id IN (SELECT 1 FROM settings)", "table settings is not allowed"),
    ("EXISTS (SELECT 1 FROM campaigns WHERE campaigns.body LIKE 'x')",
     "column campaigns.body is not allowed"),
    ("subscribers.password = 'x'", "column subscribers.password is not allowed"),
    ("usename = 'x'", "column usename is not allowed"),
    ("email = 'x' -- and the rest", "comments are not allowed"),
    ("email = 'x' /* hidden */", "comments are not allowed"),
    ("email = $$x$$", "dollar quoting"),
    ("email = $tag$x$tag$", "dollar quoting"),
    ("email = E'x\\'y'", "escape string (E'...')"),
    ("email = U&'x'", "Unicode escape string"),
    ("id IN (SELECT subscriber_id INTO stolen FROM subscriber_lists)",
     "SELECT ... INTO is not allowed"),
    ("id IN (SELECT subscriber_id FROM subscriber_lists FOR UPDATE)", "locking clause"),
    ("id IN (WITH x AS (SELECT 1) SELECT * FROM x)", "WITH (a common table expression)"),
    ("id IN (SELECT subscriber_id FROM subscriber_lists UNION SELECT 1)",
     "UNION is not allowed"),
    ("id IN (SELECT row_number() OVER () FROM subscriber_lists)", "window function"),
    ("id::regclass IS NULL", "cast to type regclass is not allowed"),
    ("name::citext = 'x'", "cast to type citext is not allowed"),
    ("id::money > 0", "cast to type money is not allowed"),
    ("1=1) OR (1=1", "could not parse query"),
    ("email = 'x')) UNION SELECT password_hash FROM eventlog.api_users --",
     "comments are not allowed"),
    ("email = 'x') OR (email IS NOT NULL", "could not parse query"),
    ("count(*) > 1", "aggregate function count is only allowed inside a sub-select"),
    ("id = $1", "parameter placeholder"),
    ("id = %s", "parameter placeholder"),
    ("email = 'x' COLLATE \"C\"", "COLLATE is not allowed"),
    ("id IN (SELECT 1 FROM generate_series(1, 10) g)", "function generate_series"),
    ("id IN (SELECT x FROM (SELECT 1 AS x) t)", "a sub-select in FROM is not allowed"),
    ("id IN (SELECT subscriber_id FROM subscriber_lists JOIN lists USING (id))",
     "only JOIN ... ON is allowed"),
    ("id IN (SELECT 1 FROM subscriber_lists, subscriber_lists b, lists, lists c)",
     "at most 3 tables"),
    ("date_trunc(name, created_at) IS NULL", "time unit name is not allowed"),
    ("id IN (VALUES (1))", "a VALUES list is not allowed"),
    ("~id = 1", "operator ~ (bitwise not)"),
    ("id = 1 AS x", "an alias outside a sub-select's column list"),
    ("", "query is empty"),
    ("-- nothing but a comment", "comments are not allowed"),
    ("email = 'a\x00b'", "NUL characters are not allowed"),
    ("id = 1 AND", "could not parse query"),
    ("(" * 3000 + "id = 1" + ")" * 3000, "query is nested too deeply"),
    ("id IN (" + ",".join(["1"] * 6000) + ")", "query is too long"),
]


@pytest.mark.parametrize(("expression", "expected"), ACCEPTED, ids=[a for a, _ in ACCEPTED])
def test_accepts_what_listmonk_clients_send(expression: str, expected: str | None) -> None:
    rendered = render_where(expression)
    if expected is not None:
        assert rendered == expected
    assert "%" not in rendered  # safe to embed in a psycopg query that has parameters


@pytest.mark.parametrize(("expression", "reason"), REFUSED, ids=[r for _, r in REFUSED])
def test_refuses_hostile_expressions_with_a_specific_reason(expression: str, reason: str) -> None:
    with pytest.raises(QueryRefused) as refused:
        validate_query(expression)
    assert reason in refused.value.reason
    assert str(refused.value) == refused.value.reason


def test_the_tables_are_long_enough() -> None:
    assert len(ACCEPTED) >= 40
    assert len(REFUSED) >= 40


@pytest.mark.parametrize("expression", [a for a, _ in ACCEPTED])
def test_rendered_sql_is_one_expression_that_renders_to_itself(expression: str) -> None:
    rendered = render_where(expression)
    wrapped = sqlglot.parse(f"SELECT 1 FROM readmodel.subscribers WHERE true AND ({rendered})",
                            dialect=SandboxPostgres)
    assert len(wrapped) == 1
    assert render_where(validate_query(expression)) == rendered


def test_rendered_sql_is_regenerated_not_the_clients_text() -> None:
    rendered = render_where("subscribers.email='x'   or  subscribers.id  =  5")
    assert rendered == "\"subscribers\".\"email\" = 'x' OR \"subscribers\".\"id\" = 5"


def test_strings_mean_what_postgres_reads_whatever_its_settings() -> None:
    # Postgres reads 'x\' as x\ (a backslash is no escape in a standard string); the sandbox
    # agrees, and writes the constant so that no setting can read it as x' and more.
    rendered = render_where(r"name = 'x\' OR id = 1")
    assert rendered == r""""subscribers"."name" = E'x\\' OR "subscribers"."id" = 1"""


def test_unqualified_columns_resolve_to_the_innermost_table_like_postgres() -> None:
    rendered = render_where("EXISTS (SELECT 1 FROM subscriber_lists WHERE subscriber_id = id)")
    assert ('"subscriber_lists"."subscriber_id" = "subscribers"."id"') in rendered
    with pytest.raises(QueryRefused, match="column status is ambiguous"):
        validate_query("id IN (SELECT subscriber_id FROM subscriber_lists, lists"
                       " WHERE status = 'x')")


def test_subscriber_lists_is_in_scope_only_when_the_caller_joins_it() -> None:
    with pytest.raises(QueryRefused, match="table subscriber_lists is not in scope here"):
        validate_query("subscriber_lists.status = 'confirmed'")
    rendered = render_where("subscriber_lists.status = 'confirmed' AND status = 'enabled'",
                            outer=LISTMONK_OUTER)
    assert rendered == ("\"subscriber_lists\".\"status\" = 'confirmed'"
                        " AND \"subscribers\".\"status\" = 'enabled'")


def test_intervals_keep_their_whole_text() -> None:
    # sqlglot alone would turn INTERVAL '1 day ago' into INTERVAL '1 DAY'.
    assert render_where("created_at < now() - interval '1 day ago'") == (
        "\"subscribers\".\"created_at\" < CURRENT_TIMESTAMP - CAST('1 day ago' AS INTERVAL)")


def test_an_empty_json_key_is_kept() -> None:
    # sqlglot's JSON-path rewriting would drop the key and compare the whole column.
    assert render_where("attribs->>'' = 'x'") == "\"subscribers\".\"attribs\" ->> '' = 'x'"
