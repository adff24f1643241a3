"""The ``lists`` read model: one row per live mailing list, shaped like listmonk's ``lists`` table.

Besides listmonk's columns it keeps ``subscriber_count`` and ``subscriber_statuses`` (subscription
status -> count) on the row itself, so reads never count over subscriptions. They start at 0 and
``{}`` and move with the subscription events of the ``subscriber`` category, which state the
statuses they move from and to. Like listmonk's ``mat_list_subscriber_stats``,
``subscriber_count`` counts every subscription (unsubscribed ones too) and
``subscriber_statuses`` holds only statuses with at least one subscription.

Ids come from a sequence and the decider refuses a second creation, so a clash on ``id`` or
``uuid`` means a hand-made log; the first creation wins (deterministically, on every replay)
rather than stalling the projection.

A batch (``apply_batch``) moves each list's counters with one update, not one per event: one
update per event of the same row makes Postgres walk an ever longer chain of that row's versions
within the transaction (quadratic in the batch). Every counter step is ``x -> max(x + d, floor)``
and such steps compose into one of the same form, so the end state is the per-event one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from events.lists import ListCreated, ListDeleted, ListUpdated
from events.store import RecordedEvent
from events.subscribers import RemovedFromLists, SubscribedToLists, SubscriptionStatusChanged
from projections.base import Statement, Tables

LISTS = "lists"


class ListsProjection:
    """Mailing lists by id: what ``GET /api/lists`` and ``GET /api/public/lists`` read."""

    name = "lists"
    categories: tuple[str, ...] = ("list", "subscriber")
    tables: tuple[str, ...] = (LISTS,)
    # Applied even on a stream frozen by the quarantine (projections.base.QuarantineAware).
    applied_on_frozen_streams = frozenset({"list.deleted"})

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        table = t[LISTS]
        return [
            sql.SQL(
                "CREATE TABLE {} ("
                " id bigint PRIMARY KEY,"
                " uuid uuid NOT NULL UNIQUE,"
                " name text NOT NULL,"
                " type text NOT NULL,"
                " optin text NOT NULL,"
                " status text NOT NULL,"
                " tags text[] NOT NULL DEFAULT '{{}}',"
                " description text NOT NULL DEFAULT '',"
                " subscriber_count integer NOT NULL DEFAULT 0,"
                " subscriber_statuses jsonb NOT NULL DEFAULT '{{}}'::jsonb,"
                " created_at timestamptz NOT NULL,"
                " updated_at timestamptz NOT NULL)"
            ).format(table),
            sql.SQL("CREATE INDEX ON {} (created_at, id)").format(table),
            sql.SQL("CREATE INDEX ON {} (type, status)").format(table),
            sql.SQL("CREATE INDEX ON {} USING gin (tags)").format(table),
        ]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        table = t[LISTS]
        e = event.decode()
        if isinstance(e, ListCreated):
            return [(
                sql.SQL(
                    "INSERT INTO {} (id, uuid, name, type, optin, status, tags, description,"
                    " created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                    " ON CONFLICT DO NOTHING"
                ).format(table),
                (e.list_id, e.uuid, e.name, e.list_type, e.optin, e.status, list(e.tags),
                 e.description, e.at, e.at),
            )]
        if isinstance(e, ListUpdated):
            return [(
                sql.SQL(
                    "UPDATE {} SET name = %s, type = %s, optin = %s, status = %s, tags = %s,"
                    " description = %s, updated_at = %s WHERE id = %s"
                ).format(table),
                (e.name, e.list_type, e.optin, e.status, list(e.tags), e.description, e.at,
                 e.list_id),
            )]
        if isinstance(e, ListDeleted):
            return [(sql.SQL("DELETE FROM {} WHERE id = %s").format(table), (e.list_id,))]
        if isinstance(e, SubscribedToLists):
            return [_count(table, e.list_ids, 1, _increment(_STATUSES, "new"), new=e.status)]
        if isinstance(e, SubscriptionStatusChanged):
            statuses = _increment(_decrement(_STATUSES, "old"), "new")
            return [_count(table, e.list_ids, 0, statuses, old=e.previous_status, new=e.status)]
        if isinstance(e, RemovedFromLists):
            return [_count(table, e.list_ids, -1, _decrement(_STATUSES, "old"), old=e.status)]
        return []


    def apply_batch(
        self, events: Sequence[RecordedEvent], t: Tables, context: Any
    ) -> list[Statement]:
        """The batch's list events one by one, its subscription events as one counter update
        per list (flushed before each list event, so the order against those is kept)."""
        out: list[Statement] = []
        counters: dict[int, _ListCounters] = {}
        for event in events:
            if event.category != "subscriber":
                out.extend(_flush(t[LISTS], counters))
                out.extend(self.apply(event, t))
                continue
            e = event.decode() if event.type in _COUNTED else None
            if isinstance(e, SubscribedToLists):
                for list_id in e.list_ids:
                    c = counters.setdefault(list_id, _ListCounters())
                    c.count.then(1, clamp=True)
                    c.status(e.status).then(1, clamp=False)
            elif isinstance(e, SubscriptionStatusChanged):
                for list_id in e.list_ids:
                    c = counters.setdefault(list_id, _ListCounters())
                    c.count.then(0, clamp=True)
                    c.status(e.previous_status).then(-1, clamp=True)
                    c.status(e.status).then(1, clamp=False)
            elif isinstance(e, RemovedFromLists):
                for list_id in e.list_ids:
                    c = counters.setdefault(list_id, _ListCounters())
                    c.count.then(-1, clamp=True)
                    c.status(e.status).then(-1, clamp=True)
        out.extend(_flush(t[LISTS], counters))
        return out


_COUNTED = frozenset({"subscriber.subscribed", "subscriber.subscription_status_changed",
                      "subscriber.removed_from_lists"})


@dataclass
class _Step:
    """``x -> max(x + add, floor)`` (no floor: ``x + add``), the composition of a batch's steps.

    A status count behaves the same way: absent is 0, an increment adds 1, a decrement takes 1
    but never goes below 0, and a status whose count reaches 0 is removed.
    """

    add: int = 0
    floor: int | None = None

    def then(self, delta: int, *, clamp: bool) -> None:
        """Compose with ``y -> y + delta`` (or ``max(y + delta, 0)`` when ``clamp``)."""
        self.add += delta
        if self.floor is not None:
            self.floor += delta
        if clamp:
            self.floor = max(self.floor if self.floor is not None else 0, 0)


@dataclass
class _ListCounters:
    count: _Step = field(default_factory=_Step)
    statuses: dict[str, _Step] = field(default_factory=dict)

    def status(self, name: str) -> _Step:
        return self.statuses.setdefault(name, _Step())


def _flush(table: sql.Identifier, counters: dict[int, _ListCounters]) -> list[Statement]:
    """One update per list applying its composed steps; empties ``counters``."""
    query = sql.SQL(
        "UPDATE {t} SET subscriber_count = GREATEST(subscriber_count + %(add)s, %(floor)s::int),"
        " subscriber_statuses = (subscriber_statuses - %(keys)s::text[]) || COALESCE(("
        "SELECT jsonb_object_agg(d.k, d.n) FROM (SELECT u.k, GREATEST(COALESCE(("
        "subscriber_statuses->>u.k)::int, 0) + u.a, u.b) AS n FROM unnest(%(keys)s::text[],"
        " %(adds)s::int[], %(floors)s::int[]) AS u(k, a, b)) d WHERE d.n > 0), '{{}}'::jsonb)"
        " WHERE id = %(id)s"
    ).format(t=table)
    out: list[Statement] = []
    for list_id, c in sorted(counters.items()):
        keys = sorted(c.statuses)
        out.append((query, {
            "id": list_id, "add": c.count.add, "floor": c.count.floor, "keys": keys,
            "adds": [c.statuses[k].add for k in keys],
            "floors": [c.statuses[k].floor for k in keys],
        }))
    counters.clear()
    return out


_STATUSES = sql.SQL("subscriber_statuses")


def _increment(statuses: sql.Composable, param: str) -> sql.Composable:
    """``statuses`` with the count of the status in ``%(param)s`` plus one."""
    p = sql.Placeholder(param)
    return sql.SQL("({s} || jsonb_build_object({p}::text, COALESCE(({s}->>{p})::int, 0) + 1))"
                   ).format(s=statuses, p=p)


def _decrement(statuses: sql.Composable, param: str) -> sql.Composable:
    """``statuses`` with the count of the status in ``%(param)s`` minus one (gone at zero)."""
    p = sql.Placeholder(param)
    return sql.SQL(
        "(CASE WHEN COALESCE(({s}->>{p})::int, 0) <= 1 THEN {s} - {p}::text"
        " ELSE {s} || jsonb_build_object({p}::text, ({s}->>{p})::int - 1) END)"
    ).format(s=statuses, p=p)


def _count(table: sql.Identifier, list_ids: list[int], delta: int, statuses: sql.Composable,
           **params: str) -> Statement:
    query = sql.SQL(
        "UPDATE {t} SET subscriber_count = GREATEST(subscriber_count + %(delta)s, 0),"
        " subscriber_statuses = {statuses} WHERE id = ANY(%(ids)s::bigint[])"
    ).format(t=table, statuses=statuses)
    return query, {"delta": delta, "ids": list_ids, **params}
