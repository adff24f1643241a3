"""Bounces without I/O: the ``bounces`` and ``subscriber_counts`` projections turn events into
statements, and the decider of ``DELETE /api/subscribers/:id/bounces`` records a deletion only
when there is something to delete."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import msgspec

from events.base import Event
from events.bounces import BounceRecorded, BouncesDeleted
from events.campaigns import CampaignDeleted
from events.crypto import encrypt_value, field_aad
from events.registry import category_of, decode_event, encode_data, schema_version_of
from events.store import Position, RecordedEvent
from events.subscribers import SubscriberCreated, SubscriberDeleted, SubscriberStatusChanged
from projections.base import PreparedProjection, live_tables
from projections.bounces import BouncesProjection
from projections.registry import all_projections
from projections.subscriber_counts import SubscriberCountsProjection
from services.command_api.subscribers.bounce_decider import DeleteBounces, bounces_decider

T0 = datetime(2024, 8, 22, 9, 5, tzinfo=UTC)
KEY = os.urandom(32)
BOUNCES = BouncesProjection()
TABLES = live_tables(BOUNCES)
COUNTS = SubscriberCountsProjection()


def recorded(event: Event) -> RecordedEvent:
    return RecordedEvent(
        position=Position(100, 1), event_id=uuid.uuid4(), stream_id="subscriber-99",
        category=category_of(event), version=1, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0)


BOUNCE = BounceRecorded(subscriber_id=99, bounce_id=841706, campaign_id=2, kind="hard",
                        source="demo", at=T0,
                        meta=encrypt_value(KEY, {"some": "parameter"}, field_aad(99, "meta")))
CREATED = SubscriberCreated(subscriber_id=99, uuid=str(uuid.uuid4()), email="e", name="n",
                            attribs="a", status="enabled", at=T0)


def test_bounce_events_round_trip_with_their_tags() -> None:
    for event in (BOUNCE, BouncesDeleted(subscriber_id=99, at=T0)):
        stored = recorded(event)
        assert decode_event(stored.type, 1, stored.data) == event
    assert (BOUNCE.event_type, category_of(BOUNCE)) == ("subscriber.bounce_recorded",
                                                        "subscriber")


def test_the_projections_are_registered() -> None:
    names = {p.name for p in all_projections()}
    assert {"bounces", "subscriber_counts"} <= names
    assert isinstance(BOUNCES, PreparedProjection)


def test_a_bounce_is_written_with_its_meta_opened() -> None:
    [(statement, params)] = BOUNCES.apply_prepared(recorded(BOUNCE), TABLES, {99: KEY})
    assert "INSERT INTO" in repr(statement)
    values = list(cast(Sequence[Any], params))
    assert values[:5] == [841706, 99, 2, "hard", "demo"]
    assert values[5].obj == {"some": "parameter"} and values[6] == T0


def test_a_bounce_of_an_erased_subscriber_writes_nothing() -> None:
    assert BOUNCES.apply_prepared(recorded(BOUNCE), TABLES, {}) == []


def test_deletions_remove_rows_and_a_deleted_campaign_is_unlinked() -> None:
    for event in (BouncesDeleted(subscriber_id=99, at=T0),
                  SubscriberDeleted(subscriber_id=99, at=T0)):
        [(statement, params)] = BOUNCES.apply_prepared(recorded(event), TABLES, {})
        assert "DELETE FROM" in repr(statement) and list(cast(Sequence[Any], params)) == [99]
    [(statement, params)] = BOUNCES.apply_prepared(
        recorded(CampaignDeleted(campaign_id=2, at=T0)), TABLES, {})
    assert "SET campaign_id = NULL" in repr(statement)
    status = SubscriberStatusChanged(subscriber_id=99, status="blocklisted",
                                     previous_status="enabled", at=T0)
    assert BOUNCES.apply_prepared(recorded(status), TABLES, {}) == []


def test_the_subscriber_count_moves_with_creations_and_deletions() -> None:
    tables = live_tables(COUNTS)
    [(_, up)] = COUNTS.apply(recorded(CREATED), tables)
    [(_, down)] = COUNTS.apply(recorded(SubscriberDeleted(subscriber_id=99, at=T0)), tables)
    assert (list(cast(Sequence[Any], up)), list(cast(Sequence[Any], down))) == ([1], [-1])
    assert COUNTS.apply(recorded(BOUNCE), tables) == []


def given(*events: Event) -> Any:
    return bounces_decider.fold(list(events))


DELETE = DeleteBounces(subscriber_id=99, at=T0)


def test_deleting_bounces_records_one_event_when_there_are_some() -> None:
    assert bounces_decider.decide(given(CREATED, BOUNCE, BOUNCE), DELETE) == [
        BouncesDeleted(subscriber_id=99, at=T0)]


def test_deleting_nothing_records_nothing() -> None:
    deleted = BouncesDeleted(subscriber_id=99, at=T0)
    assert bounces_decider.decide(given(), DELETE) == []
    assert bounces_decider.decide(given(CREATED), DELETE) == []
    assert bounces_decider.decide(given(CREATED, BOUNCE, deleted), DELETE) == []
    gone = SubscriberDeleted(subscriber_id=99, at=T0)
    assert bounces_decider.decide(given(CREATED, BOUNCE, gone), DELETE) == []
