"""Batched projections write a batch with few statements and the per-event end state (no I/O).

The end state itself is compared against per-event application on Postgres by the integration
tests of the runner and rebuild; here: how statements are merged and where runs are cut.
"""

from __future__ import annotations

import os
import random
import uuid
from datetime import UTC, datetime
from typing import Any, cast

import msgspec
from psycopg import sql

from events.base import Event
from events.crypto import encrypt_value, field_aad
from events.lists import ListCreated
from events.registry import category_of, encode_data, schema_version_of
from events.store import Position, RecordedEvent
from events.subscribers import (
    RemovedFromLists,
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatusChanged,
    SubscriptionStatusChanged,
)
from projections.base import BatchProjection, live_tables
from projections.lists import ListsProjection, _Step
from projections.subscriber_counts import SubscriberCountsProjection
from projections.subscribers import SubscribersProjection

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
KEYS = {sid: os.urandom(32) for sid in (1, 2, 3)}
SUBS = SubscribersProjection()
LISTS = ListsProjection()
COUNTS = SubscriberCountsProjection()


def recorded(event: Event) -> RecordedEvent:
    return RecordedEvent(
        position=Position(100, 1), event_id=uuid.uuid4(), stream_id="s",
        category=category_of(event), version=1, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0,
    )


def created(sid: int) -> RecordedEvent:
    key = KEYS[sid]
    return recorded(SubscriberCreated(
        subscriber_id=sid, uuid=str(uuid.uuid4()),
        email=encrypt_value(key, f"u{sid}@x.org", field_aad(sid, "email")),
        name=encrypt_value(key, f"U{sid}", field_aad(sid, "name")),
        attribs=encrypt_value(key, {"n": sid}, field_aad(sid, "attribs")),
        status="enabled", at=T0))


def subscribed(sid: int, *lists: int) -> RecordedEvent:
    return recorded(SubscribedToLists(subscriber_id=sid, list_ids=list(lists),
                                      status="confirmed", at=T0))


def shape(statements: list[Any]) -> list[str]:
    """Each statement's first words and target table, e.g. ``INSERT subscriber_lists``."""
    out = []
    for query, _ in statements:
        text = repr(query)
        table = next(t for t in ("subscriber_lists", "subscribers", "lists", "subscriber_counts")
                     if f"'{t}" in text)
        out.append(f"{text.split(chr(39))[1].split()[0]} {table}")
    return out


def test_the_bulk_read_models_are_batch_projections() -> None:
    assert all(isinstance(p, BatchProjection) for p in (SUBS, LISTS, COUNTS))


def test_runs_of_creations_and_subscriptions_become_two_statements() -> None:
    events = [created(1), subscribed(1, 5), created(2), subscribed(2, 5, 6), created(3)]
    statements = SUBS.apply_batch(events, live_tables(SUBS), KEYS)
    assert shape(statements) == ["INSERT subscribers", "INSERT subscriber_lists"]
    rows = cast(list[list[Any]], statements[0][1])
    assert rows[0] == [1, 2, 3] and rows[2] == ["u1@x.org", "u2@x.org", "u3@x.org"]
    assert rows[4] == ['{"n":1}', '{"n":2}', '{"n":3}']
    assert cast(list[list[Any]], statements[1][1])[:2] == [[1, 2, 2], [5, 5, 6]]


def test_other_events_and_repeated_subscriptions_cut_the_runs() -> None:
    status = recorded(SubscriberStatusChanged(subscriber_id=1, status="blocklisted",
                                              previous_status="enabled", at=T0))
    events = [created(1), subscribed(1, 5), status, subscribed(2, 5), subscribed(2, 5),
              recorded(SubscriberDeleted(subscriber_id=2, at=T0))]
    statements = SUBS.apply_batch(events, live_tables(SUBS), {1: KEYS[1]})
    assert shape(statements) == [
        "INSERT subscribers", "INSERT subscriber_lists", "UPDATE subscribers",
        "INSERT subscriber_lists", "INSERT subscriber_lists",
        "DELETE subscriber_lists", "DELETE subscribers"]


def test_an_erased_subscribers_creation_writes_nothing() -> None:
    assert SUBS.apply_batch([created(1)], live_tables(SUBS), {}) == []


def test_lists_move_each_lists_counters_once_per_run() -> None:
    changed = recorded(SubscriptionStatusChanged(subscriber_id=1, list_ids=[5], at=T0,
                                                 status="unsubscribed",
                                                 previous_status="confirmed"))
    removed = recorded(RemovedFromLists(subscriber_id=2, list_ids=[6], status="confirmed",
                                        at=T0))
    new_list = recorded(ListCreated(list_id=7, uuid=str(uuid.uuid4()), name="n",
                                    list_type="public", optin="single", at=T0))
    events = [created(1), subscribed(1, 5), subscribed(2, 5, 6), changed, removed, new_list,
              subscribed(3, 7)]
    statements = LISTS.apply_batch(events, live_tables(LISTS), None)
    assert shape(statements) == ["UPDATE lists"] * 2 + ["INSERT lists", "UPDATE lists"]
    params = [cast(dict[str, Any], p) for _, p in statements]
    assert params[0] == {"id": 5, "add": 2, "floor": 1, "keys": ["confirmed", "unsubscribed"],
                         "adds": [1, 1], "floors": [0, None]}
    assert params[1] == {"id": 6, "add": 0, "floor": 0, "keys": ["confirmed"], "adds": [0],
                         "floors": [0]}
    assert params[3]["id"] == 7


def test_composed_steps_equal_the_steps_one_by_one() -> None:
    rnd = random.Random(7)
    for _ in range(500):
        step, start = _Step(), rnd.randint(0, 4)
        value = start
        for _ in range(rnd.randint(1, 12)):
            delta, clamp = rnd.choice([1, 0, -1, -1]), rnd.random() < 0.7
            value = max(value + delta, 0) if clamp else value + delta
            step.then(delta, clamp=clamp)
        composed = start + step.add
        assert (composed if step.floor is None else max(composed, step.floor)) == value


def test_subscriber_counts_sum_a_batch() -> None:
    gone = recorded(SubscriberDeleted(subscriber_id=1, at=T0))
    [(query, params)] = COUNTS.apply_batch([created(1), created(2), gone, created(3)],
                                           live_tables(COUNTS), None)
    assert isinstance(query, sql.Composed) and params == (2,)
    assert COUNTS.apply_batch([created(1), gone], live_tables(COUNTS), None) == []
