"""Reading the event log out of PostgreSQL: ``postlog events export`` and ``postlog events tail``.

An export is NDJSON, one object per event in log order (``(tx_id, global_position)``), with the
stored ``data`` and ``metadata`` as they are in the log, except personal data: the fields sealed
with a subscriber's data key (``events.crypto`` tokens: e-mail, name, attribs, bounce meta) are
opened for subscribers whose key still exists, so an audit of live data is readable, and read
``"[erased]"`` for erased subscribers, whose data is gone for good. The export never fails on
personal data: a token that does not open is written as ``"[undecryptable]"`` (and logged), and
when wrapped keys cannot be unwrapped (no ``POSTLOG_MASTER_KEY``) the tokens stay as stored.
Every record then passes through a ``transform(record) -> record`` hook before it is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import msgspec
import psycopg
import structlog
from psycopg.rows import tuple_row

from events.crypto import (
    REDACTED_TEXT,
    DecryptionError,
    KeyUnavailable,
    decrypt_value,
    field_aad,
    is_encrypted,
    load_keys,
)
from events.store import START, Position, RecordedEvent, head_position, read_all

log = structlog.get_logger(__name__)

Record = dict[str, Any]
Transform = Callable[[Record], Record]
Progress = Callable[[int, Position], None]

BATCH_SIZE = 1000
NOTIFY_CHANNEL = "postlog_events"
UNDECRYPTABLE = "[undecryptable]"

_encoder = msgspec.json.Encoder()


def keep(record: Record) -> Record:
    """The default transform: records are exported exactly as stored."""
    return record


def _sealed_owner(data: Any) -> int | None:
    """The subscriber whose key seals some of ``data``'s fields, or None when nothing is
    sealed."""
    if not isinstance(data, dict) or not any(is_encrypted(v) for v in data.values()):
        return None
    owner = data.get("subscriber_id")
    return owner if isinstance(owner, int) and not isinstance(owner, bool) else None


def personal_data_opener(keys: dict[int, bytes] | None) -> Transform:
    """A transform opening the sealed fields of records with ``keys`` (subscriber id -> data
    key, erased subscribers absent): clear values, ``"[erased]"`` for erased subscribers.
    ``keys=None`` (keys could not be unwrapped) leaves the tokens as stored."""

    def open_record(record: Record) -> Record:
        owner = _sealed_owner(record.get("data"))
        if owner is None or keys is None:
            return record
        key = keys.get(owner)
        data = dict(record["data"])
        for field, value in data.items():
            if not is_encrypted(value):
                continue
            if key is None:
                data[field] = REDACTED_TEXT
                continue
            try:
                data[field] = decrypt_value(key, value, field_aad(owner, field))
            except DecryptionError:
                log.warning("export_undecryptable_field", event_id=record.get("event_id"),
                            field=field)
                data[field] = UNDECRYPTABLE
        return {**record, "data": data}

    return open_record


async def _opener(
    conn: psycopg.AsyncConnection[Any], batch: list[RecordedEvent], master_key: bytes | None
) -> Transform:
    """The personal-data transform of one batch (its subscribers' keys loaded once)."""
    owners = {o for o in (_sealed_owner(e.data) for e in batch) if o is not None}
    if not owners:
        return keep
    try:
        keys: dict[int, bytes] | None = await load_keys(conn, owners, master_key=master_key)
    except KeyUnavailable as error:
        log.warning("export_keys_unavailable", reason=str(error))
        keys = None
    return personal_data_opener(keys)


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
    master_key: bytes | None = None,
) -> int:
    """Write the selected events as NDJSON in log order; returns how many were written.

    The export ends at the log's head as it was when the export started, so a busy log still
    gives a finite, consistent file. ``master_key`` unwraps the data keys that open personal
    data (``POSTLOG_MASTER_KEY``).
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
        chosen = [e for e in batch if e.position <= head and selection.matches(e)]
        reveal = await _opener(conn, chosen, master_key)
        for event in batch:
            if event.position > head:
                return written
            if selection.matches(event):
                out.write(encode_record(transform(reveal(event_record(event)))))
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
    master_key: bytes | None = None,
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
            reveal = await _opener(conn, [e for e in batch if selection.matches(e)], master_key)
            for event in batch:
                if selection.matches(event):
                    out.write(encode_record(transform(reveal(event_record(event)))))
            out.flush()
            after = batch[-1].position
        async for _ in conn.notifies(timeout=poll_seconds, stop_after=1):
            pass
