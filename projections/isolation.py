"""Apply a batch to one projection so that one event it cannot apply does not stop it.

The runner and the rebuild write every batch through ``apply_isolated``, in their transaction:

1. Events of a stream the projection has frozen (quarantined) are set aside, to be recorded in
   the quarantine, except the types the projection applies on frozen streams (deletions).
2. The rest is written as one batch in a savepoint: the fast path, almost always taken.
3. If that fails for a reason other than the database (``projections.faults``), the events are
   written one by one in savepoints up to the one that fails. ``verdict`` decides about that
   event: quarantine it now (it freezes its stream) and go on with the rest as a batch, or stop
   right before it (the caller retries later; the runner quarantines an event only once it has
   failed a few times, in case the failure was transient after all). A projection-wide fault
   always stops; a transient one is raised.

The caller moves the checkpoint to ``Outcome.position`` and records ``Outcome.quarantined`` in
the same transaction, so an event is either applied or listed in the quarantine, never lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg

from events.store import Position, RecordedEvent
from projections.base import Projection, Tables, applied_on_frozen_streams
from projections.faults import Fault, classify, describe
from projections.quarantine import Quarantined
from projections.storage import batch_statements, run_statements

# An event that fails on its own is tried this many times, each in a new transaction, before it
# is quarantined: a transient failure that looks deterministic gets its chance.
QUARANTINE_AFTER = 3

# Asked about an event that failed on its own: ``(attempts, first failed at)`` to quarantine it
# now, or None to stop before it and try again later.
Verdict = Callable[[RecordedEvent, Exception], tuple[int, datetime] | None]


@dataclass(frozen=True)
class Failure:
    """The event a projection stopped before (None: it could not start), why, and what kind
    of fault that is."""

    event: RecordedEvent | None
    error: Exception
    kind: Fault


@dataclass
class Outcome:
    """How far a projection got through a batch (every event up to ``position`` is applied or
    in ``quarantined``), how many events of its categories it applied, and where it stopped."""

    position: Position
    applied: int = 0
    quarantined: list[Quarantined] = field(default_factory=list)
    failure: Failure | None = None


def quarantine_at_once(event: RecordedEvent, error: Exception) -> tuple[int, datetime]:
    """A ``Verdict`` that quarantines an event the first time it fails."""
    return 1, datetime.now(UTC)


async def apply_isolated(
    conn: psycopg.AsyncConnection[Any], projection: Projection, tables: Tables,
    events: Sequence[RecordedEvent], start: Position, frozen: dict[str, uuid.UUID],
    verdict: Verdict,
) -> Outcome:
    """Apply ``events`` (all after ``start``, in log order) as the module docstring says.

    ``frozen`` maps the projection's frozen streams (among these events') to the event that
    froze each; streams frozen here are added to it.
    """
    outcome = Outcome(start)
    rest = list(events)
    while rest and outcome.failure is None:
        if await _apply_batch(conn, projection, tables, rest, frozen, outcome):
            break
        rest = await _apply_one_by_one(conn, projection, tables, rest, frozen, verdict, outcome)
    return outcome


def _held_back(projection: Projection, frozen: dict[str, uuid.UUID]
               ) -> Callable[[RecordedEvent], bool]:
    """Whether an event belongs to a frozen stream and must be quarantined, not applied."""
    categories = set(projection.categories)
    exempt = applied_on_frozen_streams(projection)

    def held(event: RecordedEvent) -> bool:
        return (event.stream_id in frozen and event.category in categories
                and event.type not in exempt)
    return held


def _dependent(event: RecordedEvent, frozen: dict[str, uuid.UUID]) -> Quarantined:
    cause = frozen[event.stream_id]
    return Quarantined(event, f"follows quarantined event {cause} of the same stream", 0,
                       datetime.now(UTC), cause)


async def _apply_batch(
    conn: psycopg.AsyncConnection[Any], projection: Projection, tables: Tables,
    events: list[RecordedEvent], frozen: dict[str, uuid.UUID], outcome: Outcome,
) -> bool:
    """Write ``events`` at once in a savepoint; False (nothing written) if that failed."""
    held = _held_back(projection, frozen)
    categories = set(projection.categories)
    todo = [e for e in events if not held(e)]
    if any(e.category in categories for e in todo):
        try:
            async with conn.transaction():
                await run_statements(
                    conn, await batch_statements(conn, projection, tables, todo))
        except Exception as exc:
            if classify(exc) is Fault.TRANSIENT:
                raise
            return False
    for event in events:
        if held(event):
            outcome.quarantined.append(_dependent(event, frozen))
        elif event.category in categories:
            outcome.applied += 1
    outcome.position = events[-1].position
    return True


async def _apply_one_by_one(
    conn: psycopg.AsyncConnection[Any], projection: Projection, tables: Tables,
    events: list[RecordedEvent], frozen: dict[str, uuid.UUID], verdict: Verdict,
    outcome: Outcome,
) -> list[RecordedEvent]:
    """Write events one at a time up to the first that fails and deal with it; what is left."""
    held = _held_back(projection, frozen)
    categories = set(projection.categories)
    for i, event in enumerate(events):
        if event.category not in categories:
            outcome.position = event.position
            continue
        if held(event):
            outcome.quarantined.append(_dependent(event, frozen))
            outcome.position = event.position
            continue
        try:
            async with conn.transaction():
                await run_statements(
                    conn, await batch_statements(conn, projection, tables, [event]))
        except Exception as exc:
            kind = classify(exc)
            if kind is Fault.TRANSIENT:
                raise
            decided = verdict(event, exc) if kind is Fault.EVENT else None
            if decided is None:
                outcome.failure = Failure(event, exc, kind)
                return []
            attempts, first_failed_at = decided
            outcome.quarantined.append(Quarantined(
                event, describe(exc), attempts, first_failed_at, frozen.get(event.stream_id)))
            frozen.setdefault(event.stream_id, event.event_id)
            outcome.position = event.position
            return events[i + 1:]
        outcome.applied += 1
        outcome.position = event.position
    return []  # each applies alone: only the batch as a whole failed
