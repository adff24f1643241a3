"""The subscribers projection (and the lists' counters) turn subscriber events into statements.

No I/O: the batch's keys are given as the prepared context, as the runner would pass them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
import psycopg
import pytest
from psycopg import sql

from events.base import Event
from events.crypto import encrypt_value, field_aad
from events.lists import ListDeleted
from events.registry import category_of, encode_data, schema_version_of
from events.store import Position, RecordedEvent
from events.subscribers import (
    OptinRequested,
    RemovedFromLists,
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatusChanged,
    SubscriberUpdated,
    SubscriptionStatusChanged,
)
from projections.base import PreparedProjection, Statement, Tables, live_tables
from projections.lists import ListsProjection
from projections.registry import all_projections
from projections.storage import batch_statements
from projections.subscribers import SubscribersProjection

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
UUID = "1bb246ab-7417-4cef-bddc-8fc8fc941d3a"
KEY = os.urandom(32)
PROJECTION = SubscribersProjection()
TABLES = live_tables(PROJECTION, "__rebuild")
LISTS = ListsProjection()
LIST_TABLES = live_tables(LISTS)


def recorded(event: Event, stream: str = "subscriber-7") -> RecordedEvent:
    return RecordedEvent(
        position=Position(100, 1), event_id=uuid.uuid4(), stream_id=stream,
        category=category_of(event), version=1, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0,
    )


def tok(field: str, value: Any) -> str:
    return encrypt_value(KEY, value, field_aad(7, field))


def text(statement: sql.Composable) -> str:
    return repr(statement)


CREATED = SubscriberCreated(subscriber_id=7, uuid=UUID, email=tok("email", "a@b.c"),
                            name=tok("name", "Ann"), attribs=tok("attribs", {"city": "X"}),
                            status="enabled", at=T0)


def test_it_is_registered_prepared_and_reads_subscriber_and_list_events() -> None:
    assert any(isinstance(p, SubscribersProjection) for p in all_projections())
    assert isinstance(PROJECTION, PreparedProjection)
    assert not isinstance(LISTS, PreparedProjection)
    assert (PROJECTION.name, PROJECTION.categories, PROJECTION.tables) == (
        "subscribers", ("subscriber", "list"), ("subscribers", "subscriber_lists"))


def test_created_writes_the_decrypted_profile() -> None:
    [(statement, params)] = PROJECTION.apply_prepared(recorded(CREATED), TABLES, {7: KEY})
    assert "INSERT INTO" in text(statement) and "subscribers__rebuild" in text(statement)
    values = list(cast(Sequence[Any], params))
    assert values[:4] == [7, UUID, "a@b.c", "Ann"]
    assert values[4].obj == {"city": "X"} and values[5:] == ["enabled", T0, T0]


def test_profile_of_an_erased_subscriber_writes_nothing() -> None:
    updated = SubscriberUpdated(subscriber_id=7, email=CREATED.email, name=CREATED.name,
                                attribs=CREATED.attribs, status="enabled", at=T0)
    for event in (CREATED, updated):
        assert PROJECTION.apply_prepared(recorded(event), TABLES, {}) == []


def test_updated_rewrites_profile_and_status() -> None:
    event = SubscriberUpdated(subscriber_id=7, email=tok("email", "n@b.c"), name=tok("name", "N"),
                              attribs=tok("attribs", {}), status="disabled", at=T0)
    [(statement, params)] = PROJECTION.apply_prepared(recorded(event), TABLES, {7: KEY})
    values = list(cast(Sequence[Any], params))
    assert "UPDATE" in text(statement)
    assert values[:2] == ["n@b.c", "N"] and values[3:] == ["disabled", T0, 7]


@pytest.mark.parametrize(("event", "sql_word", "params"), [
    (SubscriberStatusChanged(subscriber_id=7, status="blocklisted", previous_status="enabled",
                             at=T0), "UPDATE", ["blocklisted", T0, 7]),
    (SubscribedToLists(subscriber_id=7, list_ids=[1, 2], status="confirmed", at=T0),
     "INSERT INTO", [7, "confirmed", T0, T0, [1, 2]]),
    (SubscriptionStatusChanged(subscriber_id=7, list_ids=[2], status="unsubscribed",
                               previous_status="confirmed", at=T0),
     "UPDATE", ["unsubscribed", T0, 7, [2]]),
    (RemovedFromLists(subscriber_id=7, list_ids=[1], status="unconfirmed", at=T0),
     "DELETE FROM", [7, [1]]),
])
def test_subscription_events(event: Event, sql_word: str, params: list[Any]) -> None:
    [(statement, values)] = PROJECTION.apply_prepared(recorded(event), TABLES, {})
    assert sql_word in text(statement) and "subscriber" in text(statement)
    assert list(cast(Sequence[Any], values)) == params


def test_deleted_removes_the_subscriber_and_its_subscriptions() -> None:
    statements = PROJECTION.apply_prepared(
        recorded(SubscriberDeleted(subscriber_id=7, at=T0)), TABLES, {})
    assert [list(cast(Sequence[Any], p)) for _, p in statements] == [[7], [7]]
    assert all("DELETE FROM" in text(s) for s, _ in statements)


def test_list_deletion_drops_its_subscriptions_and_optin_writes_nothing() -> None:
    [(statement, params)] = PROJECTION.apply_prepared(
        recorded(ListDeleted(list_id=3, at=T0), "list-3"), TABLES, {})
    assert "subscriber_lists__rebuild" in text(statement) and list(
        cast(Sequence[Any], params)) == [3]
    optin = OptinRequested(subscriber_id=7, list_ids=[1], at=T0)
    assert PROJECTION.apply_prepared(recorded(optin), TABLES, {}) == []


def test_plain_apply_is_refused() -> None:
    with pytest.raises(TypeError):
        PROJECTION.apply(recorded(CREATED), TABLES)


def _counter(event: Event) -> tuple[str, dict[str, Any]]:
    [(statement, params)] = LISTS.apply(recorded(event), LIST_TABLES)
    return text(statement), dict(cast(dict[str, Any], params))


def test_lists_count_subscriptions_by_status() -> None:
    query, params = _counter(SubscribedToLists(subscriber_id=7, list_ids=[1, 2],
                                               status="confirmed", at=T0))
    assert "subscriber_count" in query and params == {"delta": 1, "ids": [1, 2],
                                                      "new": "confirmed"}
    query, params = _counter(SubscriptionStatusChanged(
        subscriber_id=7, list_ids=[1], status="unsubscribed", previous_status="confirmed", at=T0))
    assert params == {"delta": 0, "ids": [1], "old": "confirmed", "new": "unsubscribed"}
    query, params = _counter(RemovedFromLists(subscriber_id=7, list_ids=[2],
                                              status="unconfirmed", at=T0))
    assert params == {"delta": -1, "ids": [2], "old": "unconfirmed"}
    assert LISTS.apply(recorded(CREATED), LIST_TABLES) == []


class _Prepared:
    """A prepared projection recording what the storage layer hands it."""

    name = "fake"
    categories: tuple[str, ...] = ("subscriber",)
    tables: tuple[str, ...] = ("fake",)

    def __init__(self) -> None:
        self.prepared: list[list[str]] = []

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return []

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        raise AssertionError("apply must not be called")

    async def prepare(self, conn: Any, events: Sequence[RecordedEvent]) -> str:
        self.prepared.append([e.type for e in events])
        return "ctx"

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        return [(sql.SQL("SELECT 1"), (event.type, context))]


async def test_batch_statements_prepare_once_per_batch_with_only_wanted_events() -> None:
    fake = _Prepared()
    events = [recorded(CREATED), recorded(ListDeleted(list_id=3, at=T0), "list-3"),
              recorded(SubscriberDeleted(subscriber_id=7, at=T0))]
    conn = cast(psycopg.AsyncConnection[Any], None)
    statements = await batch_statements(conn, fake, {"fake": sql.Identifier("fake")}, events)
    assert fake.prepared == [["subscriber.created", "subscriber.deleted"]]
    assert [p for _, p in statements] == [("subscriber.created", "ctx"),
                                          ("subscriber.deleted", "ctx")]
    assert await batch_statements(conn, fake, {}, events[1:2]) == []
    assert fake.prepared == [["subscriber.created", "subscriber.deleted"]]
