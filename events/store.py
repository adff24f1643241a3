"""The PostgreSQL event store: concurrent appends with optimistic concurrency, and readers.

Positions are ``(tx_id, global_position)`` pairs. Readers page in that order and only read rows
whose transaction id is below the oldest transaction still running
(``pg_snapshot_xmin(pg_current_snapshot())``), so a slow transaction that commits after a faster
one is never skipped.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import tuple_row
from psycopg.types.json import JsonbBinaryLoader, JsonbLoader

from events.base import Event, EventMetadata
from events.registry import category_of, decode_event, encode_data, schema_version_of
from events.validation import InvalidText, check_event_size, holds_encoded_nul

ANY_VERSION = -1
NO_STREAM = 0


class Position(msgspec.Struct, frozen=True, order=True, array_like=True):
    """A point in the log: ``(tx_id, global_position)``; compare as a tuple."""

    tx_id: int = 0
    global_position: int = 0

    def __str__(self) -> str:
        return f"{self.tx_id}:{self.global_position}"

    @classmethod
    def parse(cls, text: str) -> Position:
        tx, _, gp = text.partition(":")
        return cls(int(tx), int(gp or 0))


START = Position(0, 0)


class ConcurrencyError(Exception):
    """The stream's version was not the expected one: reload, decide again, or answer 409."""

    def __init__(self, stream_id: str, expected: int) -> None:
        super().__init__(f"stream {stream_id} is not at version {expected}")
        self.stream_id = stream_id
        self.expected = expected


class DuplicateEventId(Exception):
    """An event id already exists: the append is a retry of one that committed."""


@dataclass(frozen=True)
class StreamAppend:
    """Events for one stream, appended after ``expected_version`` (or ``ANY_VERSION``)."""

    stream_id: str
    expected_version: int
    events: Sequence[Event]
    event_ids: Sequence[uuid.UUID] = field(default_factory=tuple)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as read back from the log."""

    position: Position
    event_id: uuid.UUID
    stream_id: str
    category: str
    version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    def decode(self) -> Event:
        """The typed event (upcast to its current schema), decoded once: a batch is applied by
        several projections, each of which asks for it."""
        decoded = self.__dict__.get("_decoded")
        if decoded is None:
            decoded = decode_event(self.type, self.schema_version, self.data)
            object.__setattr__(self, "_decoded", decoded)  # a cache, not a field
        return decoded


_COLUMNS = (
    "tx_id::text::bigint, global_position, event_id, stream_id, category, version, type,"
    " schema_version, data, metadata, recorded_at"
)


class _FastJsonbLoader(JsonbLoader):
    """jsonb columns decoded with msgspec (several times faster than ``json.loads``)."""

    def load(self, data: Any) -> Any:
        return msgspec.json.decode(data)


class _FastJsonbBinaryLoader(JsonbBinaryLoader):
    def load(self, data: Any) -> Any:
        if data and data[0] != 1:
            raise psycopg.DataError(f"unknown jsonb binary format: {data[0]}")
        return msgspec.json.decode(memoryview(data)[1:])


def _event_cursor(conn: psycopg.AsyncConnection[Any]) -> psycopg.AsyncCursor[tuple[Any, ...]]:
    """A cursor for reading events, decoding their jsonb with msgspec."""
    cur = conn.cursor(row_factory=tuple_row)
    cur.adapters.register_loader("jsonb", _FastJsonbLoader)
    cur.adapters.register_loader("jsonb", _FastJsonbBinaryLoader)
    return cur


def _recorded(row: tuple[Any, ...]) -> RecordedEvent:
    return RecordedEvent(
        position=Position(row[0], row[1]),
        event_id=row[2],
        stream_id=row[3],
        category=row[4],
        version=row[5],
        type=row[6],
        schema_version=row[7],
        data=row[8],
        metadata=row[9],
        recorded_at=row[10],
    )


async def stream_version(conn: psycopg.AsyncConnection[Any], stream_id: str) -> int:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT coalesce(max(version), 0) FROM eventlog.events WHERE stream_id = %s", (stream_id,)
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def append(
    conn: psycopg.AsyncConnection[Any],
    appends: Sequence[StreamAppend],
    metadata: EventMetadata,
) -> Position:
    """Append events to one or more streams atomically; returns the position of the last event.

    Normally runs inside a transaction the caller owns (``conn.transaction()``), so that
    command-side index rows written beside the append commit or roll back with it; a failure
    then aborts that transaction. Raises
    ``ConcurrencyError`` on a version conflict and ``DuplicateEventId`` when an event id exists.

    The last guard of the validation boundary (``events/validation.py``): an event holding a
    NUL or a lone surrogate raises ``InvalidText``, one bigger than ``MAX_EVENT_BYTES``
    raises ``EventTooLarge``, before anything is written.
    """
    meta = msgspec.json.encode(metadata).decode()
    rows: list[tuple[Any, ...]] = []
    for item in appends:
        version = item.expected_version
        if version == ANY_VERSION:
            version = await stream_version(conn, item.stream_id)
        ids = list(item.event_ids) or [uuid.uuid4() for _ in item.events]
        if len(ids) != len(item.events):
            raise ValueError("event_ids must match events one to one")
        for event_id, event in zip(ids, item.events, strict=True):
            version += 1
            data = encoded_data(event)
            check_event_size(len(data) + len(meta))
            rows.append(
                (
                    event_id,
                    item.stream_id,
                    category_of(event),
                    version,
                    event.event_type,
                    schema_version_of(event),
                    data.decode(),
                    meta,
                )
            )
    if not rows:
        raise ValueError("nothing to append")
    columns = list(zip(*rows, strict=True))
    try:
        # Inside the caller's transaction no savepoint is needed: a failure aborts it whole.
        # Outside one, a transaction keeps a multi-event append atomic.
        in_transaction = conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        async with (
            contextlib.nullcontext() if in_transaction else conn.transaction(),
            conn.cursor(row_factory=tuple_row) as cur,
        ):
            # One statement for the whole append; rows get positions in array order. The
            # arrays go in binary (%b): text arrays would escape every quote of the JSON.
            await cur.execute(
                "WITH appended AS ("
                " INSERT INTO eventlog.events"
                " (event_id, stream_id, category, version, type, schema_version, data, metadata)"
                " SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::int[],"
                " %b::text[], %b::smallint[], %b::jsonb[], %b::jsonb[])"
                " RETURNING tx_id, global_position)"
                " SELECT max(tx_id::text::bigint), max(global_position) FROM appended",
                [list(column) for column in columns],
            )
            last = await cur.fetchone()
    except psycopg.errors.UniqueViolation as exc:
        constraint = exc.diag.constraint_name or ""
        if "event_id" in constraint:
            raise DuplicateEventId(str(exc)) from exc
        stream = next(
            (a for a in appends if a.stream_id in (exc.diag.message_detail or "")), appends[0]
        )
        raise ConcurrencyError(stream.stream_id, stream.expected_version) from exc
    assert last is not None
    return Position(int(last[0]), int(last[1]))


def encoded_data(event: Event) -> bytes:
    """The event's data as stored, refused if PostgreSQL's jsonb could not hold it."""
    try:
        data = encode_data(event)
    except UnicodeEncodeError:
        raise InvalidText(f"invalid {event.event_type}: it contains an invalid Unicode"
                          " surrogate") from None
    if holds_encoded_nul(data):
        raise InvalidText(f"invalid {event.event_type}: it contains a NUL character (U+0000)")
    return data


async def read_stream(
    conn: psycopg.AsyncConnection[Any], stream_id: str, after_version: int = 0
) -> list[RecordedEvent]:
    """Every event of one stream in version order (a stream's own order is its version)."""
    cur = await _event_cursor(conn).execute(
        f"SELECT {_COLUMNS} FROM eventlog.events"
        " WHERE stream_id = %s AND version > %s ORDER BY version",
        (stream_id, after_version),
    )
    return [_recorded(row) for row in await cur.fetchall()]


async def read_streams(
    conn: psycopg.AsyncConnection[Any], stream_ids: Iterable[str]
) -> dict[str, list[RecordedEvent]]:
    """The events of many streams with one query, each in version order, by stream id (a
    stream without events is absent)."""
    wanted = sorted(set(stream_ids))
    if not wanted:
        return {}
    cur = await _event_cursor(conn).execute(
        f"SELECT {_COLUMNS} FROM eventlog.events"
        " WHERE stream_id = ANY(%b) ORDER BY stream_id, version",
        (wanted,),
    )
    found: dict[str, list[RecordedEvent]] = {}
    for row in await cur.fetchall():
        recorded = _recorded(row)
        found.setdefault(recorded.stream_id, []).append(recorded)
    return found


_READ_ALL = (
    "SELECT " + _COLUMNS + " FROM eventlog.events"
    " WHERE (tx_id, global_position) > (%s::text::xid8, %s)"
    " AND tx_id < pg_snapshot_xmin(pg_current_snapshot()){category}"
    # Qualified: a bare ``tx_id`` would name the output column ``tx_id::text::bigint``,
    # which no index matches (every page would sort the rest of the log).
    " ORDER BY events.tx_id, events.global_position LIMIT %s"
)


async def read_all(
    conn: psycopg.AsyncConnection[Any],
    after: Position = START,
    limit: int = 500,
    categories: Sequence[str] | None = None,
) -> list[RecordedEvent]:
    """The next committed events after ``after`` in log order, never past a running transaction.

    Only rows with ``tx_id < pg_snapshot_xmin(pg_current_snapshot())`` are visible: their
    transactions have all finished, so no earlier position can still appear later.
    """
    after_params = [after.tx_id, after.global_position]
    if not categories:
        query: sql.SQL | sql.Composed = sql.SQL(_READ_ALL.format(category=""))
        params: list[Any] = [*after_params, limit]
    else:
        # One ordered index scan per category (``category = ANY(..)`` cannot use the index's
        # order: Postgres would fetch every later event of those categories and sort them),
        # merged by the outer ORDER BY.
        names = sorted(set(categories))
        parts = [sql.SQL("(" + _READ_ALL.format(category=" AND category = %s") + ")")
                 for _ in names]
        query = sql.SQL("SELECT * FROM ({}) AS page ORDER BY 1, 2 LIMIT %s").format(
            sql.SQL(" UNION ALL ").join(parts))
        params = [p for name in names for p in (*after_params, name, limit)] + [limit]
    cur = await _event_cursor(conn).execute(query, params)
    return [_recorded(row) for row in await cur.fetchall()]


async def head_position(conn: psycopg.AsyncConnection[Any]) -> Position:
    """The last position a reader can see now (its own snapshot's safe horizon)."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT tx_id::text::bigint, global_position FROM eventlog.events"
        " WHERE tx_id < pg_snapshot_xmin(pg_current_snapshot())"
        " ORDER BY events.tx_id DESC, events.global_position DESC LIMIT 1"
    )
    row = await cur.fetchone()
    return Position(int(row[0]), int(row[1])) if row else START


def derive_event_ids(idempotency_key: str, count: int) -> list[uuid.UUID]:
    """Stable event ids for a request's idempotency key: a retry yields the same ids."""
    return [uuid.uuid5(_IDEMPOTENCY_NAMESPACE, f"{idempotency_key}#{i}") for i in range(count)]


_IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0b5e9f-7f2d-4f5c-9a55-2f3d2d8a6e11")
