"""What a projection is: a pure function from a recorded event to SQL statements.

A projection owns tables in schema ``readmodel``. It never names them directly: it receives a
``Tables`` mapping (base name -> qualified identifier), so a rebuild can fill fresh tables under
other names and swap them in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import psycopg
from psycopg import sql

from events.store import RecordedEvent

Tables = Mapping[str, sql.Identifier]
Statement = tuple[sql.Composable, Sequence[Any] | Mapping[str, Any]]


class Projection(Protocol):
    """A read model built from the log."""

    name: str
    # Event categories this projection reads; the runner skips the others.
    categories: tuple[str, ...]
    # Base names of the tables it owns in schema readmodel.
    tables: tuple[str, ...]

    def create_statements(self, t: Tables) -> list[sql.Composable]:
        """DDL creating this projection's tables (and their indexes) under the given names."""
        ...

    def apply(self, event: RecordedEvent, t: Tables) -> list[Statement]:
        """Statements that apply one event. Pure: no I/O, no clock."""
        ...


@runtime_checkable
class PreparedProjection(Protocol):
    """A projection whose ``apply`` needs data from outside the log, e.g. decryption keys.

    ``prepare`` reads it for a batch (in the batch's transaction); ``apply_prepared`` stays
    pure: the same events and context always give the same statements. The runner and the
    rebuild call these instead of ``apply`` (``projections.storage.batch_statements``).
    """

    async def prepare(
        self, conn: psycopg.AsyncConnection[Any], events: Sequence[RecordedEvent]
    ) -> Any:
        """What ``apply_prepared`` needs for ``events`` (events of its categories only)."""
        ...

    def apply_prepared(self, event: RecordedEvent, t: Tables, context: Any) -> list[Statement]:
        """Statements that apply one event, given the batch's context. Pure."""
        ...


@runtime_checkable
class BatchProjection(Protocol):
    """A projection that writes a whole batch with fewer statements than one per event.

    ``apply_batch`` must leave the tables exactly as applying the events one by one would
    (e.g. one multi-row ``INSERT`` for consecutive creations, counters summed over the batch);
    it stays pure. ``context`` is what ``prepare`` returned for a ``PreparedProjection``, else
    None. ``projections.storage.batch_statements`` prefers it to the per-event methods.
    """

    def apply_batch(
        self, events: Sequence[RecordedEvent], t: Tables, context: Any
    ) -> list[Statement]:
        """Statements that apply ``events`` (all of the projection's categories), in order."""
        ...


@runtime_checkable
class QuarantineAware(Protocol):
    """A projection with event types it still applies on a quarantined (frozen) stream.

    When an event cannot be applied, its stream is frozen for that projection: every later event
    of the stream is recorded in the quarantine instead of applied, since it may depend on the
    one that failed. A type listed here is applied anyway because it depends on nothing before
    it: a deletion by id (``subscriber.deleted`` must remove an erased subscriber's personal
    data from the read model even when an earlier event of the stream was quarantined). A type
    whose effect depends on earlier events (a counter moved by a deletion) must not be listed.
    """

    applied_on_frozen_streams: frozenset[str]


def applied_on_frozen_streams(projection: Projection) -> frozenset[str]:
    """The types ``projection`` applies on a frozen stream (none unless ``QuarantineAware``)."""
    if isinstance(projection, QuarantineAware):
        return projection.applied_on_frozen_streams
    return frozenset()


def live_tables(projection: Projection, suffix: str = "") -> dict[str, sql.Identifier]:
    """Identifiers of a projection's tables, optionally with a suffix (for rebuilds)."""
    return {name: sql.Identifier("readmodel", name + suffix) for name in projection.tables}
