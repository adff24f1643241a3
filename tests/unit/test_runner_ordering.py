"""The ordering rule: apply what follows the checkpoint, skip what is older, stop at gaps."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from events.store import START, Position, RecordedEvent
from projections.storage import chain, next_events

AT = datetime(2024, 1, 1, tzinfo=UTC)


def event(tx: int, gp: int) -> RecordedEvent:
    return RecordedEvent(
        position=Position(tx, gp), event_id=uuid.uuid4(), stream_id="list-1", category="list",
        version=1, type="list.created", schema_version=1, data={}, metadata={}, recorded_at=AT,
    )


E1, E2, E3, E4 = event(10, 1), event(10, 2), event(12, 4), event(15, 3)


def positions(events: list[RecordedEvent]) -> list[Position]:
    return [e.position for e in events]


def test_chain_pairs_each_event_with_the_one_before() -> None:
    assert [(e.position, prev) for e, prev in chain(START, [E1, E2, E3])] == [
        (E1.position, START), (E2.position, E1.position), (E3.position, E2.position)]


def test_events_right_after_the_checkpoint_are_applied() -> None:
    todo, reached, gap = next_events(chain(START, [E1, E2, E3]), START)
    assert (positions(todo), reached, gap) == ([E1.position, E2.position, E3.position],
                                               E3.position, False)


def test_events_at_or_before_the_checkpoint_are_skipped() -> None:
    todo, reached, gap = next_events(chain(START, [E1, E2, E3]), E2.position)
    assert (positions(todo), reached, gap) == ([E3.position], E3.position, False)


def test_redelivered_batch_is_skipped_entirely() -> None:
    assert next_events(chain(START, [E1, E2]), E3.position) == ([], E3.position, False)


def test_a_gap_stops_before_the_unknown_event() -> None:
    items = [(E1, START), (E3, E2.position), (E4, E3.position)]  # E2 never arrived
    todo, reached, gap = next_events(items, START)
    assert (positions(todo), reached, gap) == ([E1.position], E1.position, True)


def test_positions_order_by_transaction_first() -> None:
    # A later global position can come earlier in the log when its transaction id is lower.
    assert Position(12, 4) < Position(15, 3)
    todo, _, gap = next_events(chain(E3.position, [E4]), E3.position)
    assert (positions(todo), gap) == ([E4.position], False)
