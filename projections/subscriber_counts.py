"""The ``subscriber_counts`` read model: how many subscribers exist, without counting rows.

One row (``id = 1``) moved by ``subscriber.created`` (+1) and ``subscriber.deleted`` (-1): the
total of an unfiltered ``GET /api/subscribers``, which listmonk reads from its materialised
``mat_list_subscriber_stats`` (list 0) for the same reason. An erased subscriber's creation and
deletion both count, so a replay gives the same number as the live run. A batch writes its
summed delta with one statement (``apply_batch``): one update of the single row per event would
make Postgres walk an ever longer chain of that row's versions within the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import sql

from events.store import RecordedEvent
from projections.base import Statement, Tables

SUBSCRIBER_COUNTS = "subscriber_counts"

_DELTAS = {"subscriber.created": 1, "subscriber.deleted": -1}


class SubscriberCountsProjection:
    """The number of live subscribers."""

    name = "subscriber_counts"
    categories: tuple[str, ...] = ("subscriber",)
    tables: tuple[str, ...] = (SUBSCRIBER_COUNTS,)

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        table = t[SUBSCRIBER_COUNTS]
        return [
            sql.SQL("CREATE TABLE {} (id smallint PRIMARY KEY, subscribers bigint NOT NULL)"
                    ).format(table),
            sql.SQL("INSERT INTO {} (id, subscribers) VALUES (1, 0)").format(table),
        ]

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        delta = _DELTAS.get(event.type)
        if delta is None:
            return []
        return [(sql.SQL("UPDATE {} SET subscribers = subscribers + %s WHERE id = 1").format(
            t[SUBSCRIBER_COUNTS]), (delta,))]

    def apply_batch(
        self, events: Sequence[RecordedEvent], t: Tables, context: Any
    ) -> list[Statement]:
        """The batch's deltas summed into one update (a sum: the same end state)."""
        delta = sum(_DELTAS.get(e.type, 0) for e in events)
        if not delta:
            return []
        return [(sql.SQL("UPDATE {} SET subscribers = subscribers + %s WHERE id = 1").format(
            t[SUBSCRIBER_COUNTS]), (delta,))]
