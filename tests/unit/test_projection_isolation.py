"""``apply_isolated``: one event a projection cannot apply is quarantined with its stream, or
stops the projection right before it; everything else is applied (a fake connection whose
savepoints roll back what failed; no database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from events.store import START, Position, RecordedEvent
from projections.base import Statement, Tables
from projections.faults import Fault
from projections.isolation import apply_isolated, quarantine_at_once

AT = datetime(2024, 1, 1, tzinfo=UTC)


class FakeConnection:
    """Records the events whose statement ran; a failed savepoint forgets its own."""

    def __init__(self) -> None:
        self.applied: list[str] = []

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        saved = list(self.applied)
        try:
            yield
        except BaseException:
            self.applied[:] = saved
            raise

    @asynccontextmanager
    async def pipeline(self) -> AsyncIterator[None]:
        yield

    @asynccontextmanager
    async def cursor(self) -> AsyncIterator[FakeConnection]:
        yield self

    async def execute(self, _query: Any, params: tuple[RecordedEvent]) -> None:
        (event,) = params
        error = FAILURES.get(event.data.get("fail", ""))
        if error is not None:
            raise error
        self.applied.append(label(event))


FAILURES: dict[str, Exception] = {
    "too-large": errors.ProgramLimitExceeded("index row requires 30016 bytes"),
    "no-table": errors.UndefinedTable('relation "readmodel.book" does not exist'),
    "outage": errors.AdminShutdown("terminating connection due to administrator command"),
}


class Book:
    """A projection of lists whose statement fails for an event asking for it."""

    name = "book"
    categories: tuple[str, ...] = ("list",)
    tables: tuple[str, ...] = ("book",)
    applied_on_frozen_streams = frozenset({"list.deleted"})

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        return []

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        return [(sql.SQL("apply"), (event,))]


def ev(gp: int, stream: str, type_: str = "list.updated", fail: str = "",
       category: str = "list") -> RecordedEvent:
    return RecordedEvent(
        position=Position(1, gp), event_id=uuid.UUID(int=gp), stream_id=stream,
        category=category, version=gp, type=type_, schema_version=1,
        data={"fail": fail} if fail else {}, metadata={}, recorded_at=AT)


def label(event: RecordedEvent) -> str:
    return f"{event.stream_id}@{event.position.global_position}"


async def run(events: list[RecordedEvent], frozen: dict[str, uuid.UUID] | None = None,
              verdict: Any = quarantine_at_once) -> tuple[Any, FakeConnection]:
    conn = FakeConnection()
    outcome = await apply_isolated(conn, Book(), {"book": sql.Identifier("book")},  # type: ignore[arg-type]
                                   events, START, {} if frozen is None else frozen, verdict)
    return outcome, conn


async def test_a_batch_that_applies_is_written_at_once() -> None:
    events = [ev(1, "list-1"), ev(2, "subscriber-9", category="subscriber"), ev(3, "list-2")]
    outcome, conn = await run(events)
    assert conn.applied == ["list-1@1", "list-2@3"]
    assert (outcome.position, outcome.applied, outcome.quarantined, outcome.failure) == (
        Position(1, 3), 2, [], None)


async def test_the_failing_event_is_quarantined_and_freezes_its_stream_only() -> None:
    frozen: dict[str, uuid.UUID] = {}
    events = [ev(1, "list-1"), ev(2, "list-2", fail="too-large"), ev(3, "list-1"),
              ev(4, "list-2"), ev(5, "list-3"), ev(6, "list-2", "list.deleted")]
    outcome, conn = await run(events, frozen)
    assert conn.applied == ["list-1@1", "list-1@3", "list-3@5", "list-2@6"]
    assert [(label(q.event), q.attempts, q.caused_by) for q in outcome.quarantined] == [
        ("list-2@2", 1, None), ("list-2@4", 0, uuid.UUID(int=2))]
    assert outcome.quarantined[0].error == (
        "54000 ProgramLimitExceeded: index row requires 30016 bytes")
    assert (outcome.position, outcome.applied, outcome.failure) == (Position(1, 6), 4, None)
    assert frozen == {"list-2": uuid.UUID(int=2)}


async def test_a_stream_frozen_earlier_stays_frozen() -> None:
    events = [ev(7, "list-5"), ev(8, "list-6"), ev(9, "list-5", "list.deleted")]
    outcome, conn = await run(events, {"list-5": uuid.UUID(int=1)})
    assert conn.applied == ["list-6@8", "list-5@9"]  # the deletion is applied anyway
    assert [(label(q.event), q.caused_by) for q in outcome.quarantined] == [
        ("list-5@7", uuid.UUID(int=1))]
    assert outcome.position == Position(1, 9)


async def test_an_event_not_yet_given_up_on_stops_the_projection_before_it() -> None:
    asked: list[str] = []

    def not_yet(event: RecordedEvent, error: Exception) -> None:
        asked.append(label(event))

    events = [ev(1, "list-1"), ev(2, "list-2", fail="too-large"), ev(3, "list-3")]
    outcome, conn = await run(events, verdict=not_yet)
    assert asked == ["list-2@2"]
    assert conn.applied == ["list-1@1"]
    assert (outcome.position, outcome.applied, outcome.quarantined) == (Position(1, 1), 1, [])
    assert outcome.failure is not None
    assert (label(outcome.failure.event), outcome.failure.kind) == ("list-2@2", Fault.EVENT)


async def test_a_projection_wide_fault_stops_without_blaming_the_event() -> None:
    events = [ev(1, "list-1", fail="no-table"), ev(2, "list-2")]
    outcome, conn = await run(events)
    assert conn.applied == []
    assert (outcome.position, outcome.quarantined) == (START, [])
    assert outcome.failure is not None and outcome.failure.kind is Fault.PROJECTION


async def test_database_trouble_is_raised() -> None:
    with pytest.raises(psycopg.errors.AdminShutdown):
        await run([ev(1, "list-1"), ev(2, "list-2", fail="outage")])
