"""The command side's ``EventStore`` contract, run against the PostgreSQL adapter and the
in-memory fake alike, so unit tests that use the fake prove what production does.

Each backend gives a fresh store per "command" (``begin``) and writes its staged appends as the
executor does when the command commits (``commit``).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
import pytest

from events.base import EventMetadata
from events.lists import ListCreated, ListUpdated
from events.store import ConcurrencyError, DuplicateEventId, StreamAppend, append
from events.validation import EventTooLarge, InvalidText
from services.command_api.lists.decider import Absent, Active, list_decider
from services.command_api.store import EMAIL_INDEX, EventStore, PostgresEventStore
from tests.fake_store import InMemoryEventStore

NOW = datetime(2024, 1, 1, tzinfo=UTC)


class Backend(Protocol):
    async def begin(self) -> EventStore: ...
    async def commit(self, store: EventStore) -> None: ...


@dataclass
class FakeBackend:
    store: InMemoryEventStore = field(default_factory=InMemoryEventStore)

    async def begin(self) -> EventStore:
        return self.store

    async def commit(self, store: EventStore) -> None:
        assert store is self.store
        self.store.commit()


@dataclass
class PostgresBackend:
    conn: psycopg.AsyncConnection[Any]

    async def begin(self) -> EventStore:
        await self.conn.execute("BEGIN")
        return PostgresEventStore(self.conn)

    async def commit(self, store: EventStore) -> None:
        assert isinstance(store, PostgresEventStore)
        try:
            if store.staged:
                await append(self.conn, store.staged, EventMetadata(actor="test"))
        except BaseException:
            await self.conn.execute("ROLLBACK")
            raise
        await self.conn.execute("COMMIT")


@pytest.fixture(params=["postgres", "in-memory"])
async def backend(request: pytest.FixtureRequest, fresh_database_url: str
                  ) -> AsyncIterator[Backend]:
    if request.param == "in-memory":
        yield FakeBackend()
        return
    async with await psycopg.AsyncConnection.connect(fresh_database_url,
                                                     autocommit=True) as conn:
        yield PostgresBackend(conn)


def created(list_id: int, name: str = "l") -> ListCreated:
    return ListCreated(list_id=list_id, uuid=str(uuid.uuid4()), name=name, list_type="public",
                       optin="single", at=NOW)


def renamed(list_id: int, name: str) -> ListUpdated:
    return ListUpdated(list_id=list_id, name=name, list_type="public", optin="single",
                       status="active", at=NOW)


async def test_an_unknown_stream_folds_to_the_initial_state_at_version_zero(
        backend: Backend) -> None:
    store = await backend.begin()
    assert await store.load("list-404", list_decider) == (Absent(), 0)
    assert await store.load_many(["list-404", "list-405"], list_decider) == {
        "list-404": (Absent(), 0), "list-405": (Absent(), 0)}
    await backend.commit(store)


async def test_committed_appends_are_loaded_folded_with_their_version(backend: Backend) -> None:
    store = await backend.begin()
    store.append(StreamAppend("list-1", 0, [created(1), renamed(1, "b")]))
    await backend.commit(store)
    store = await backend.begin()
    state, version = await store.load("list-1", list_decider)
    assert isinstance(state, Active) and state.name == "b" and version == 2
    loaded = await store.load_many(["list-1", "list-2"], list_decider)
    assert loaded["list-1"][1] == 2 and loaded["list-2"] == (Absent(), 0)
    await backend.commit(store)


async def test_a_stale_version_is_refused_and_nothing_of_the_command_is_written(
        backend: Backend) -> None:
    store = await backend.begin()
    store.append(StreamAppend("list-1", 0, [created(1)]))
    await backend.commit(store)
    store = await backend.begin()
    store.append(StreamAppend("list-2", 0, [created(2)]),
                 StreamAppend("list-1", 0, [renamed(1, "late")]))
    with pytest.raises(ConcurrencyError):
        await backend.commit(store)
    store = await backend.begin()
    assert (await store.load("list-2", list_decider))[1] == 0
    assert (await store.load("list-1", list_decider))[1] == 1
    await backend.commit(store)


async def test_an_event_id_is_unique_across_the_log(backend: Backend) -> None:
    event_id = uuid.uuid4()
    store = await backend.begin()
    store.append(StreamAppend("list-1", 0, [created(1)], [event_id]))
    await backend.commit(store)
    store = await backend.begin()
    store.append(StreamAppend("list-2", 0, [created(2)], [event_id]))
    with pytest.raises(DuplicateEventId):
        await backend.commit(store)


async def test_an_event_no_store_can_hold_is_refused(backend: Backend) -> None:
    store = await backend.begin()
    store.append(StreamAppend("list-1", 0, [created(1, "a\x00b")]))
    with pytest.raises(InvalidText):
        await backend.commit(store)
    big = ListCreated(list_id=2, uuid=str(uuid.uuid4()), name="big", list_type="public",
                      optin="single", description="x" * 1_000_001, at=NOW)
    store = await backend.begin()
    store.append(StreamAppend("list-2", 0, [big]))
    with pytest.raises(EventTooLarge):
        await backend.commit(store)


async def test_ids_from_a_sequence_increase(backend: Backend) -> None:
    store = await backend.begin()
    first = await store.next_id("eventlog.list_id_seq")
    second = await store.next_id("eventlog.list_id_seq")
    assert second > first >= 1
    await backend.commit(store)


async def test_a_unique_key_has_one_owner(backend: Backend) -> None:
    store = await backend.begin()
    assert await store.claim(EMAIL_INDEX, "hash-a", 1) is None
    assert await store.claim(EMAIL_INDEX, "hash-a", 1) is None  # its own: nothing changes
    assert await store.claim(EMAIL_INDEX, "hash-a", 2) == 1  # taken
    assert await store.owner(EMAIL_INDEX, "hash-a") == 1
    assert await store.claim(EMAIL_INDEX, "hash-b", 1) is None  # a new key releases the old
    assert await store.owner(EMAIL_INDEX, "hash-a") is None
    assert await store.claim(EMAIL_INDEX, "hash-a", 2) is None
    assert sorted(await store.release(EMAIL_INDEX, [1, 2, 3])) == ["hash-a", "hash-b"]
    assert await store.owner(EMAIL_INDEX, "hash-b") is None
    await backend.commit(store)


async def test_a_data_key_is_made_once_and_kept(backend: Backend) -> None:
    store = await backend.begin()
    assert await store.data_key(7) is None
    key = await store.data_key(7, create=True)
    assert key is not None and len(key) == 32
    assert await store.data_key(7, create=True) == key
    assert await store.data_keys([7, 8]) == {7: key}
    await backend.commit(store)


async def test_streams_are_found_by_what_their_creation_event_names(backend: Backend) -> None:
    first, second = created(1), created(2)
    store = await backend.begin()
    store.append(StreamAppend("list-1", 0, [first]), StreamAppend("list-2", 0, [second]))
    await backend.commit(store)
    store = await backend.begin()
    assert await store.find_streams(ListCreated, "uuid", [first.uuid.upper(), second.uuid,
                                                          str(uuid.uuid4())]) == {
        first.uuid: "list-1", second.uuid: "list-2"}
    assert await store.find_streams(ListUpdated, "uuid", [first.uuid]) == {}
    assert await store.find_streams(ListCreated, "uuid", []) == {}
    await backend.commit(store)


async def test_a_batch_claims_the_free_keys_with_fresh_ids_in_order(backend: Backend) -> None:
    store = await backend.begin()
    assert await store.claim(EMAIL_INDEX, "hash-held", 100) is None
    claimed = await store.claim_new(EMAIL_INDEX, ["hash-z", "hash-held", "hash-a"],
                                    "eventlog.subscriber_id_seq")
    assert set(claimed) == {"hash-z", "hash-a"}
    assert claimed["hash-a"] > claimed["hash-z"] >= 1  # ids in the order the keys came
    assert await store.owners(EMAIL_INDEX, ["hash-z", "hash-held", "hash-a", "hash-none"]) == {
        **claimed, "hash-held": 100}
    assert await store.claim_new(EMAIL_INDEX, ["hash-a"], "eventlog.subscriber_id_seq") == {}
    assert await store.claim_new(EMAIL_INDEX, [], "eventlog.subscriber_id_seq") == {}
    await backend.commit(store)


async def test_data_keys_are_made_in_a_batch_for_those_without_one(backend: Backend) -> None:
    store = await backend.begin()
    fresh = await store.data_keys([7, 8], create=True)
    assert set(fresh) == {7, 8} and all(len(key) == 32 for key in fresh.values())
    assert await store.data_keys([7, 8, 9]) == fresh  # no key is made without ``create``
    again = await store.data_keys([8, 9], create=True)  # 8 keeps its key, 9 gets one
    assert again[8] == fresh[8] and len(again[9]) == 32
    await backend.commit(store)


async def test_erasing_destroys_the_keys_and_releases_the_unique_keys(backend: Backend) -> None:
    store = await backend.begin()
    for subscriber_id, email_hash in ((1, "hash-1"), (2, "hash-2")):
        assert await store.claim(EMAIL_INDEX, email_hash, subscriber_id) is None
    keys = await store.data_keys([1, 2], create=True)
    await backend.commit(store)
    store = await backend.begin()
    await store.erase_subscribers([1, 1])
    await store.erase_subscribers([])
    await backend.commit(store)
    store = await backend.begin()
    assert await store.data_key(1) is None
    assert await store.data_keys([1, 2], create=True) == {2: keys[2]}  # never made again
    assert await store.owners(EMAIL_INDEX, ["hash-1", "hash-2"]) == {"hash-2": 2}
    assert await store.claim(EMAIL_INDEX, "hash-1", 3) is None  # the address is free again
    await backend.commit(store)
