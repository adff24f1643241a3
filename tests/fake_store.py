"""An in-memory ``EventStore`` (cosmicpython's fake repository): handlers run against it in unit
tests, without a database, and the contract suite (``tests/contract``) checks that it behaves as
the PostgreSQL adapter does.

A handler stages appends on it; ``commit()`` writes them as the executor does when a command
commits: atomically, each after its expected version (``ConcurrencyError`` otherwise, nothing
written), with event ids unique across the log (``DuplicateEventId``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import msgspec

from events.base import Event
from events.registry import category_of, schema_version_of
from events.store import (
    ANY_VERSION,
    ConcurrencyError,
    DuplicateEventId,
    Position,
    RecordedEvent,
    StreamAppend,
    encoded_data,
)
from events.validation import check_event_size
from services.command_api.decider import Decider
from services.command_api.store import EMAIL_INDEX, EventStore, Handler

S = TypeVar("S")


class InMemoryEventStore:
    """``EventStore`` kept in dicts; ``commit()`` plays the executor's part."""

    def __init__(self) -> None:
        self.streams: dict[str, list[RecordedEvent]] = {}
        self.log: list[RecordedEvent] = []
        self.staged: list[StreamAppend] = []
        self.sequences: dict[str, int] = {}
        self.indexes: dict[str, dict[str, int]] = {}
        self.keys: dict[int, bytes] = {}
        self.erased: set[int] = set()

    # --- the port ----------------------------------------------------------------------------

    async def load(self, stream_id: str, decider: Decider[S, Any]) -> tuple[S, int]:
        recorded = self.streams.get(stream_id, [])
        return decider.fold([r.decode() for r in recorded]), len(recorded)

    async def load_many(self, stream_ids: Iterable[str], decider: Decider[S, Any]
                        ) -> dict[str, tuple[S, int]]:
        return {sid: await self.load(sid, decider) for sid in dict.fromkeys(stream_ids)}

    async def find_streams(self, created: type[Event], field: str, values: Iterable[str]
                           ) -> dict[str, str]:
        wanted = {v.lower() for v in values}
        tag = created.__struct_config__.tag
        found: dict[str, str] = {}
        for row in self.log:
            value = row.data.get(field)
            if row.type == tag and isinstance(value, str) and value.lower() in wanted:
                found.setdefault(value.lower(), row.stream_id)
        return found

    def append(self, *appends: StreamAppend) -> None:
        self.staged.extend(a for a in appends if a.events)

    async def next_id(self, sequence: str) -> int:
        self.sequences[sequence] = self.sequences.get(sequence, 0) + 1
        return self.sequences[sequence]

    async def claim(self, index: str, key: str, owner: int) -> int | None:
        keys = self.indexes.setdefault(index, {})
        holder = keys.get(key)
        if holder is not None:
            return None if holder == owner else holder
        for held in [k for k, o in keys.items() if o == owner]:
            del keys[held]
        keys[key] = owner
        return None

    async def claim_new(self, index: str, keys: Sequence[str], sequence: str) -> dict[str, int]:
        held = self.indexes.setdefault(index, {})
        claimed: dict[str, int] = {}
        for key in dict.fromkeys(keys):
            if key not in held:
                claimed[key] = held[key] = await self.next_id(sequence)
        return claimed

    async def owner(self, index: str, key: str) -> int | None:
        return self.indexes.get(index, {}).get(key)

    async def owners(self, index: str, keys: Iterable[str]) -> dict[str, int]:
        held = self.indexes.get(index, {})
        return {key: held[key] for key in keys if key in held}

    async def release(self, index: str, owners: Iterable[int]) -> list[str]:
        keys = self.indexes.setdefault(index, {})
        gone = set(owners)
        released = [k for k, o in keys.items() if o in gone]
        for key in released:
            del keys[key]
        return released

    async def data_key(self, subscriber_id: int, *, create: bool = False) -> bytes | None:
        if create and subscriber_id not in self.keys and subscriber_id not in self.erased:
            self.keys[subscriber_id] = os.urandom(32)
        return self.keys.get(subscriber_id)

    async def data_keys(self, subscriber_ids: Iterable[int], *, create: bool = False
                        ) -> dict[int, bytes]:
        ids = list(subscriber_ids)
        if create:
            for subscriber_id in ids:
                await self.data_key(subscriber_id, create=True)
        return {i: self.keys[i] for i in ids if i in self.keys}

    async def erase_subscribers(self, subscriber_ids: Iterable[int]) -> None:
        ids = set(subscriber_ids)
        self.erase(ids)
        await self.release(EMAIL_INDEX, ids)

    # --- what the executor does --------------------------------------------------------------

    def commit(self) -> Position | None:
        """Write the staged appends atomically; the position of the last event, or None."""
        staged, self.staged = self.staged, []
        versions = {sid: len(events) for sid, events in self.streams.items()}
        known_ids = {r.event_id for r in self.log}
        rows: list[RecordedEvent] = []
        for item in staged:
            version = versions.get(item.stream_id, 0)
            if item.expected_version not in (ANY_VERSION, version):
                raise ConcurrencyError(item.stream_id, item.expected_version)
            ids = list(item.event_ids) or [uuid.uuid4() for _ in item.events]
            for event_id, event in zip(ids, item.events, strict=True):
                if event_id in known_ids:
                    raise DuplicateEventId(str(event_id))
                known_ids.add(event_id)
                version += 1
                rows.append(self._recorded(item.stream_id, version, event_id, event,
                                           len(self.log) + len(rows) + 1))
            versions[item.stream_id] = version
        for row in rows:
            self.streams.setdefault(row.stream_id, []).append(row)
            self.log.append(row)
        return rows[-1].position if rows else None

    def erase(self, subscriber_ids: Iterable[int]) -> None:
        """Destroy data keys, as an erasure does."""
        for subscriber_id in subscriber_ids:
            self.keys.pop(subscriber_id, None)
            self.erased.add(subscriber_id)

    def events(self, stream_id: str) -> list[Event]:
        return [r.decode() for r in self.streams.get(stream_id, [])]

    @staticmethod
    def _recorded(stream_id: str, version: int, event_id: uuid.UUID, event: Event,
                  global_position: int) -> RecordedEvent:
        data = encoded_data(event)  # refused as the PostgreSQL store refuses it
        check_event_size(len(data))
        return RecordedEvent(
            position=Position(1, global_position), event_id=event_id, stream_id=stream_id,
            category=category_of(event), version=version, type=event.event_type,
            schema_version=schema_version_of(event), data=msgspec.json.decode(data),
            metadata={}, recorded_at=datetime.now(UTC))


async def run(store: InMemoryEventStore, handler: Handler) -> dict[str, Any]:
    """Run a handler as the executor would: its result, its appends committed."""
    result = await handler(store)
    store.commit()
    return result


async def race(store: InMemoryEventStore, first: Handler, second: Handler) -> None:
    """Two commands decided on the same committed state, committed one after the other, as
    two concurrent requests would be: the first commits; the second's commit raises
    ``ConcurrencyError`` when it decided on a version the first moved on."""
    await first(store)
    staged_first, store.staged = store.staged, []
    await second(store)
    staged_second, store.staged = store.staged, staged_first
    store.commit()
    store.staged = staged_second
    store.commit()


def as_port(store: InMemoryEventStore) -> EventStore:
    """The fake seen through the port (mypy checks that it implements it)."""
    return store
