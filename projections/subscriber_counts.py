"""The ``subscriber_counts`` read model: how many subscribers exist, without counting rows.

One row (``id = 1``) moved by ``subscriber.created`` (+1) and ``subscriber.deleted`` (-1): the
total of an unfiltered ``GET /api/subscribers``, which listmonk reads from its materialised
``mat_list_subscriber_stats`` (list 0) for the same reason. An erased subscriber's creation and
deletion both count, so a replay gives the same number as the live run.
"""

from __future__ import annotations

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
