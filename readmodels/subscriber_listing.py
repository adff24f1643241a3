"""Selecting subscribers as listmonk's ``query-subscribers`` family does, over the read model.

One filter serves ``GET /api/subscribers``, the CSV export and the by-query commands
(``/api/subscribers/query/*``): an optional ``query=`` expression (through the sandbox, never
spliced), ``search`` (a case-insensitive regular expression on name or e-mail, listmonk's ``~*``),
``list_id``s (subscribed to any of them, in ``subscription_status`` when given) and, for the
export, explicit subscriber ids.

listmonk LEFT JOINs ``subscriber_lists`` so an expression may name its columns
(``subscriber_lists.status = 'confirmed'``). postlog first reads the expression with only
``subscribers`` in scope and filters lists with ``EXISTS``, so each subscriber appears once
(listmonk repeats a subscriber once per matching list). Only an expression that needs the outer
``subscriber_lists`` is evaluated against the subscription rows: inside the ``EXISTS`` when lists
are given, or against a join that matches nothing when none are (as in listmonk, whose join is
empty then).

Every statement runs in ``sandboxed()`` (READ ONLY, ``statement_timeout``, ``postlog_reader``).
Totals avoid counting rows where a counter holds the answer: the ``subscriber_counts`` read model
for no filter at all, a list's ``subscriber_count``/``subscriber_statuses`` for one list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

from readmodels.sandbox import QueryRefused, render_where
from readmodels.sandbox_rules import LISTMONK_OUTER, SUBSCRIBERS_OUTER

# How long one statement of a listing or an export batch may run.
QUERY_TIMEOUT = timedelta(seconds=5)
ORDER_FIELDS = ("name", "email", "status", "created_at", "updated_at")
# Up to this many matches, one scan gives the total and the page (see ``find_page``).
FEW_MATCHES = 50_000
PREPARING_QUERY = "Error preparing subscriber query: {}"

_SUBSCRIBERS = sql.SQL('"readmodel"."subscribers"')
_NO_SUBSCRIPTION = sql.SQL(' LEFT JOIN "readmodel"."subscriber_lists" ON FALSE')
_COLUMNS = sql.SQL(
    '"subscribers"."id", "subscribers"."created_at", "subscribers"."updated_at",'
    ' "subscribers"."uuid"::text AS uuid, "subscribers"."email", "subscribers"."name",'
    ' "subscribers"."attribs", "subscribers"."status"')
_EXPORT_COLUMNS = sql.SQL(
    '"subscribers"."id", "subscribers"."uuid"::text, "subscribers"."email",'
    ' "subscribers"."name", "subscribers"."attribs"::text, "subscribers"."status",'
    ' "subscribers"."created_at", "subscribers"."updated_at"')


def format_query(text: str | None) -> str:
    """listmonk's ``formatSQLExp``: trimmed, one trailing ``;`` dropped."""
    query = (text or "").strip()
    return query[:-1] if query.endswith(";") else query


@dataclass(frozen=True)
class SubscriberFilter:
    """Which subscribers: all of the given conditions (an empty one is no condition)."""

    query: str = ""
    search: str = ""
    list_ids: tuple[int, ...] = ()
    subscription_status: str = ""
    subscriber_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Selection:
    """A filter as SQL: ``FROM <source> WHERE <condition>`` with its parameters."""

    source: sql.Composable
    condition: sql.Composable
    params: tuple[Any, ...]


def _expression(query: str) -> tuple[str, bool]:
    """The sandboxed SQL of ``query`` and whether it names the outer ``subscriber_lists``."""
    try:
        return render_where(query, outer=SUBSCRIBERS_OUTER), False
    except QueryRefused:
        return render_where(query, outer=LISTMONK_OUTER), True


def selection(f: SubscriberFilter) -> Selection:
    """The SQL of a filter; ``QueryRefused`` when the sandbox refuses its expression."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    source: sql.Composable = _SUBSCRIBERS
    expression, on_subscriptions = _expression(f.query) if f.query else ("", False)
    if f.search:
        parts.append(sql.SQL('("subscribers"."name" ~* %s OR "subscribers"."email" ~* %s)'))
        params += [f.search, f.search]
    if f.subscriber_ids:
        parts.append(sql.SQL('"subscribers"."id" = ANY(%s::bigint[])'))
        params.append(list(f.subscriber_ids))
    if f.list_ids:
        inner: list[sql.Composable] = [sql.SQL(
            '"subscriber_lists"."subscriber_id" = "subscribers"."id"'
            ' AND "subscriber_lists"."list_id" = ANY(%s::bigint[])')]
        params.append(list(f.list_ids))
        if f.subscription_status:
            inner.append(sql.SQL('"subscriber_lists"."status" = %s'))
            params.append(f.subscription_status)
        if on_subscriptions:
            inner.append(sql.SQL("({})").format(sql.SQL(expression)))
        parts.append(sql.SQL(
            'EXISTS (SELECT 1 FROM "readmodel"."subscriber_lists" WHERE {})').format(
            sql.SQL(" AND ").join(inner)))
    elif on_subscriptions:
        source = sql.Composed([_SUBSCRIBERS, _NO_SUBSCRIPTION])
    if expression and not (on_subscriptions and f.list_ids):
        parts.append(sql.SQL("({})").format(sql.SQL(expression)))
    condition = sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")
    return Selection(source, condition, tuple(params))


async def _counted(conn: psycopg.AsyncConnection[Any], f: SubscriberFilter) -> int | None:
    """The number of matches when a counter holds it (no expression, search or ids; no list
    or one list), else None."""
    if f.query or f.search or f.subscriber_ids or len(set(f.list_ids)) > 1:
        return None
    cur = conn.cursor(row_factory=tuple_row)
    if not f.list_ids:
        await cur.execute('SELECT subscribers FROM "readmodel"."subscriber_counts" WHERE id = 1')
    else:
        await cur.execute(
            "SELECT CASE WHEN %s = '' THEN subscriber_count"
            " ELSE COALESCE((subscriber_statuses->>%s)::bigint, 0) END"
            ' FROM "readmodel"."lists" WHERE id = %s',
            (f.subscription_status, f.subscription_status, f.list_ids[0]))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def find_page(
    conn: psycopg.AsyncConnection[Any], f: SubscriberFilter, s: Selection, *, order_by: str,
    descending: bool, offset: int, limit: int | None,
) -> tuple[int, list[dict[str, Any]]]:
    """The number of matching subscribers and one page of their rows, ordered by
    ``order_by`` (ties broken by id the same way).

    Without a counter, the first ``FEW_MATCHES + 1`` matching ids are read: when that is all
    of them, they are the total and the page is taken from them alone (ordered by id, the
    default, it is a slice of the sorted ids), so a filter that no index serves (an attribute,
    a regex search) scans the table once, not twice. Otherwise the total is counted and the
    page read in order, which stops early.
    """
    direction = sql.SQL("DESC" if descending else "ASC")
    field = order_by if order_by in ORDER_FIELDS else "id"
    order = sql.SQL('{} {}, "subscribers"."id" {}').format(
        sql.Identifier("subscribers", field), direction, direction)
    cur = conn.cursor(row_factory=tuple_row)
    few: list[int] | None = None
    total = await _counted(conn, f)
    if total is None:
        await cur.execute(sql.SQL('SELECT "subscribers"."id" FROM {} WHERE {} LIMIT %s').format(
            s.source, s.condition), (*s.params, FEW_MATCHES + 1))
        found = [int(row[0]) for row in await cur.fetchall()]
        if len(found) <= FEW_MATCHES:
            few, total = found, len(found)
        else:
            await cur.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
                s.source, s.condition), s.params)
            row = await cur.fetchone()
            total = int(row[0]) if row else 0
    if not total:
        return 0, []
    rows = conn.cursor(row_factory=dict_row)
    if few is not None and field == "id":
        few.sort(reverse=descending)
        few = few[offset:] if limit is None else few[offset:offset + limit]
        await rows.execute(sql.SQL(
            'SELECT {} FROM {} WHERE "subscribers"."id" = ANY(%s) ORDER BY {}'
        ).format(_COLUMNS, _SUBSCRIBERS, order), (few,))
    elif few is not None:
        await rows.execute(sql.SQL(
            'SELECT {} FROM {} WHERE "subscribers"."id" = ANY(%s) ORDER BY {} OFFSET %s LIMIT %s'
        ).format(_COLUMNS, _SUBSCRIBERS, order), (few, offset, limit))
    else:
        await rows.execute(sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} OFFSET %s LIMIT %s"
                                   ).format(_COLUMNS, s.source, s.condition, order),
                           (*s.params, offset, limit))
    return total, await rows.fetchall()


async def export_rows(
    conn: psycopg.AsyncConnection[Any], s: Selection, after_id: int, limit: int
) -> list[tuple[Any, ...]]:
    """The next ``limit`` matching subscribers after ``after_id`` (ascending id), as
    ``(id, uuid, email, name, attribs JSON text, status, created_at, updated_at)``."""
    statement = sql.SQL(
        'SELECT {} FROM {} WHERE "subscribers"."id" > %s AND {}'
        ' ORDER BY "subscribers"."id" LIMIT %s').format(_EXPORT_COLUMNS, s.source, s.condition)
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(statement, (after_id, *s.params, limit))
    return await cur.fetchall()


async def matching_ids(conn: psycopg.AsyncConnection[Any], s: Selection) -> list[int]:
    """Every matching subscriber's id, ascending."""
    cur = conn.cursor(row_factory=tuple_row)
    await cur.execute(sql.SQL(
        'SELECT "subscribers"."id" FROM {} WHERE {} ORDER BY "subscribers"."id"').format(
        s.source, s.condition), s.params)
    return [int(row[0]) for row in await cur.fetchall()]


RESTRICTED_LIST_NAME = "*Unknown"


def mask_lists(subscriber: dict[str, Any], visible: frozenset[int] | None) -> dict[str, Any]:
    """The subscriber as a user who sees only the ``visible`` lists (None: all) is shown it
    (listmonk's ``maskRestrictedSubLists``): each other list keeps its id and subscription but
    is named ``*Unknown``, marked ``"restricted": true`` and loses its description."""
    if visible is None:
        return subscriber
    lists = [
        entry if entry.get("id") in visible else
        {**{k: v for k, v in entry.items() if k != "description"},
         "name": RESTRICTED_LIST_NAME, "restricted": True}
        for entry in subscriber.get("lists") or []
    ]
    return {**subscriber, "lists": lists}
