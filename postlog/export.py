"""Reading the event log out of PostgreSQL: ``postlog events export`` and ``postlog events tail``.

An export is NDJSON, one object per event in log order (``(tx_id, global_position)``), with the
stored ``data`` and ``metadata`` as they are in the log. Every record passes through a
``transform(record) -> record`` hook before it is written: the personal-data issue plugs in
decryption or redaction there (crypto-shredded subscribers then export without readable data).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import msgspec
import psycopg
from psycopg.rows import tuple_row

from events.store import START, Position, RecordedEvent, head_position, read_all

Record = dict[str, Any]
Transform = Callable[[Record], Record]
Progress = Callable[[int, Position], None]

BATCH_SIZE = 1000
NOTIFY_CHANNEL = "postlog_events"

_encoder = msgspec.json.Encoder()


def keep(record: Record) -> Record:
    """The default transform: records are exported exactly as stored."""
    return record


def event_record(event: RecordedEvent) -> Record:
    """The exported shape of one event; ``position`` is ``tx:gp``, usable as ``--since``."""
    return {
        "position": str(event.position),
        "event_id": str(event.event_id),
        "stream_id": event.stream_id,
        "category": event.category,
        "version": event.version,
        "type": event.type,
        "schema_version": event.schema_version,
        "data": event.data,
        "metadata": event.metadata,
        "recorded_at": event.recorded_at.isoformat(),
    }


def encode_record(record: Record) -> bytes:
    return _encoder.encode(record) + b"\n"


def parse_until(text: str) -> datetime:
    """ISO 8601 time; without an offset it is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def resolve_since(conn: psycopg.AsyncConnection[Any], text: str | None) -> Position:
    """``tx:gp`` or a global position number -> the position to export after (exclusive)."""
    if text is None or not text.strip():
        return START
    text = text.strip()
    try:
        if ":" in text:
            return Position.parse(text)
        global_position = int(text)
    except ValueError:
        raise ValueError(f"not a position (tx:gp or a number): {text!r}") from None
    if global_position <= 0:
        return START
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT tx_id::text::bigint FROM eventlog.events WHERE global_position = %s",
        (global_position,),
    )
    row = await cur.fetchone()
    if row is None:
        raise ValueError(f"no event at global position {global_position}")
    return Position(int(row[0]), global_position)


@dataclass(frozen=True)
class ExportFilter:
    """Which events to export: one stream, after a position, recorded up to a time."""

    stream: str | None = None
    since: Position = START
    until: datetime | None = None

    def matches(self, event: RecordedEvent) -> bool:
        if self.stream is not None and event.stream_id != self.stream:
            return False
        return self.until is None or event.recorded_at <= self.until


async def _categories(conn: psycopg.AsyncConnection[Any], stream: str | None) -> list[str] | None:
    """Narrow the scan to the stream's category (looked up, never guessed from the name)."""
    if stream is None:
        return None
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT category FROM eventlog.events WHERE stream_id = %s LIMIT 1", (stream,)
    )
    row = await cur.fetchone()
    return [str(row[0])] if row else []


async def export_events(
    conn: psycopg.AsyncConnection[Any],
    out: BinaryIO,
    selection: ExportFilter = ExportFilter(),
    *,
    transform: Transform = keep,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Write the selected events as NDJSON in log order; returns how many were written.

    The export ends at the log's head as it was when the export started, so a busy log still
    gives a finite, consistent file.
    """
    categories = await _categories(conn, selection.stream)
    if categories == []:
        return 0
    head = await head_position(conn)
    after, written = selection.since, 0
    while after < head:
        batch = await read_all(conn, after, batch_size, categories)
        if not batch:
            break
        for event in batch:
            if event.position > head:
                return written
            if selection.matches(event):
                out.write(encode_record(transform(event_record(event))))
                written += 1
        after = batch[-1].position
        if progress is not None:
            progress(written, after)
    return written


async def _position_before_last(
    conn: psycopg.AsyncConnection[Any], last: int, stream: str | None
) -> Position:
    """The position after which the ``last`` most recent visible events (of a stream) begin."""
    where = "tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    params: list[Any] = []
    if stream is not None:
        where += " AND stream_id = %s"
        params.append(stream)
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT tx_id::text::bigint, global_position FROM eventlog.events WHERE " + where
        + " ORDER BY tx_id DESC, global_position DESC OFFSET %s LIMIT 1",
        [*params, last],
    )
    row = await cur.fetchone()
    return Position(int(row[0]), int(row[1])) if row else START


async def tail_events(
    conn: psycopg.AsyncConnection[Any],
    out: BinaryIO,
    *,
    stream: str | None = None,
    last: int = 10,
    transform: Transform = keep,
    stop: asyncio.Event | None = None,
    poll_seconds: float = 1.0,
) -> None:
    """Print the ``last`` most recent events, then every new one as it commits, until ``stop``.

    Woken by ``NOTIFY postlog_events``; polls every ``poll_seconds`` as well, because an event
    becomes readable only once older transactions have finished, which sends no notification.
    ``conn`` must be in autocommit mode and is used for LISTEN.
    """
    stop = stop or asyncio.Event()
    await conn.execute("LISTEN " + NOTIFY_CHANNEL)
    after = await _position_before_last(conn, max(last, 0), stream)
    selection = ExportFilter(stream=stream)
    while not stop.is_set():
        while batch := await read_all(conn, after, BATCH_SIZE):
            for event in batch:
                if selection.matches(event):
                    out.write(encode_record(transform(event_record(event))))
            out.flush()
            after = batch[-1].position
        async for _ in conn.notifies(timeout=poll_seconds, stop_after=1):
            pass
