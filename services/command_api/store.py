"""The command side's port to the event log: what a command handler may do, and its PostgreSQL
adapter.

A handler (``services/command_api/<aggregate>/handlers.py``) is a plain async function that takes
an ``EventStore`` and the command's input and returns its result (such as the new id). Through
the store it loads streams (folded by a pure decider), takes ids from sequences, claims unique
keys (a subscriber's e-mail), reads or creates personal-data keys, and stages appends. Everything
happens in the command's one transaction: the executor (``executor.py``) writes the staged
appends, records the idempotent outcome and commits, so a failed handler appends nothing.

``PostgresEventStore`` is the adapter the executor hands out; ``tests/fake_store.py`` holds an
in-memory one with the same behaviour, against which handlers are unit-tested and which the
event-store contract suite (``tests/contract``) checks alongside this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from events.crypto import ensure_key, load_keys
from events.store import StreamAppend
from services.command_api.decider import Decider, load, load_many

S = TypeVar("S")

# Unique-key indexes the store keeps (name -> table, key column, owner column).
EMAIL_INDEX = "subscriber_email"
_INDEXES = {EMAIL_INDEX: ("eventlog", "subscriber_emails", "email_hash", "subscriber_id")}


class EventStore(Protocol):
    """Everything a command handler may read or change, inside one command's transaction."""

    async def load(self, stream_id: str, decider: Decider[S, Any]) -> tuple[S, int]:
        """The stream folded into its current state, and the stream's version (0: no stream)."""
        ...

    async def load_many(self, stream_ids: Iterable[str], decider: Decider[S, Any]
                        ) -> dict[str, tuple[S, int]]:
        """``load`` for many streams at once; a stream without events is at version 0."""
        ...

    def append(self, *appends: StreamAppend) -> None:
        """Stage appends: they are written, each after its expected version, when the command
        commits (a version conflict then makes the executor run the command again)."""
        ...

    async def next_id(self, sequence: str) -> int:
        """The next integer id of ``sequence`` (``eventlog.list_id_seq``...); gaps are fine."""
        ...

    async def claim(self, index: str, key: str, owner: int) -> int | None:
        """Make ``key`` the one key of ``owner`` in a unique index (its previous key there is
        released); None when done, else the owner already holding ``key`` (nothing changes).
        A concurrent claim of the same key by a command not yet committed counts as held."""
        ...

    async def owner(self, index: str, key: str) -> int | None:
        """Who holds ``key`` in a unique index, if anyone."""
        ...

    async def release(self, index: str, owners: Iterable[int]) -> list[str]:
        """Drop the keys of ``owners`` from a unique index; the keys they held."""
        ...

    async def data_key(self, subscriber_id: int, *, create: bool = False) -> bytes | None:
        """The subscriber's personal-data key (made if ``create``); None once erased."""
        ...

    async def data_keys(self, subscriber_ids: Iterable[int]) -> dict[int, bytes]:
        """The data keys of those subscribers that still have one."""
        ...


class PostgresEventStore:
    """``EventStore`` over one connection inside the command's transaction."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], master_key: bytes | None = None
                 ) -> None:
        self.conn = conn
        self.master_key = master_key
        self.staged: list[StreamAppend] = []

    async def load(self, stream_id: str, decider: Decider[S, Any]) -> tuple[S, int]:
        return await load(self.conn, stream_id, decider)

    async def load_many(self, stream_ids: Iterable[str], decider: Decider[S, Any]
                        ) -> dict[str, tuple[S, int]]:
        return await load_many(self.conn, stream_ids, decider)

    def append(self, *appends: StreamAppend) -> None:
        self.staged.extend(a for a in appends if a.events)

    async def next_id(self, sequence: str) -> int:
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            sql.SQL("SELECT nextval({})").format(sql.Literal(sequence)))
        row = await cur.fetchone()
        assert row is not None
        return int(row[0])

    async def claim(self, index: str, key: str, owner: int) -> int | None:
        table, key_column, owner_column = _index(index)
        holder = await self.owner(index, key)
        if holder is not None:
            return None if holder == owner else holder
        await self.conn.execute(sql.SQL("DELETE FROM {} WHERE {} = %s").format(
            table, owner_column), (owner,))
        try:
            async with self.conn.transaction():  # a savepoint: the race is the client's 409
                await self.conn.execute(sql.SQL("INSERT INTO {} ({}, {}) VALUES (%s, %s)").format(
                    table, key_column, owner_column), (key, owner))
        except psycopg.errors.UniqueViolation:
            return await self.owner(index, key) or -1
        return None

    async def owner(self, index: str, key: str) -> int | None:
        table, key_column, owner_column = _index(index)
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(owner_column, table, key_column),
            (key,))
        row = await cur.fetchone()
        return int(row[0]) if row is not None else None

    async def release(self, index: str, owners: Iterable[int]) -> list[str]:
        table, key_column, owner_column = _index(index)
        ids = sorted(set(owners))
        if not ids:
            return []
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            sql.SQL("DELETE FROM {} WHERE {} = ANY(%s) RETURNING {}").format(
                table, owner_column, key_column), (ids,))
        return [str(row[0]) for row in await cur.fetchall()]

    async def data_key(self, subscriber_id: int, *, create: bool = False) -> bytes | None:
        if create:
            return await ensure_key(self.conn, subscriber_id, master_key=self.master_key)
        return (await self.data_keys([subscriber_id])).get(subscriber_id)

    async def data_keys(self, subscriber_ids: Iterable[int]) -> dict[int, bytes]:
        return await load_keys(self.conn, list(subscriber_ids), master_key=self.master_key)


def _index(name: str) -> tuple[sql.Identifier, sql.Identifier, sql.Identifier]:
    schema, table, key_column, owner_column = _INDEXES[name]
    return (sql.Identifier(schema, table), sql.Identifier(key_column),
            sql.Identifier(owner_column))


Handler = Callable[[EventStore], Awaitable[dict[str, Any]]]
"""A command bound to its input: runs against a store, returns the command's result."""


async def decide_on(store: EventStore, stream_id: str, decider: Decider[S, Any], command: Any
                    ) -> StreamAppend:
    """Load ``stream_id``, decide ``command`` and stage the events (also returned)."""
    state, version = await store.load(stream_id, decider)
    append = StreamAppend(stream_id, version, decider.decide(state, command))
    store.append(append)
    return append


def staged_events(appends: Sequence[StreamAppend]) -> int:
    return sum(len(a.events) for a in appends)
