"""The command side's port to the event log: what a command handler may do, and its PostgreSQL
adapter.

A handler (``services/command_api/<aggregate>/handlers.py``) is a plain async function that takes
an ``EventStore`` and the command's input and returns its result (such as the new id). Through
the store it loads streams (folded by a pure decider), finds streams by what their creation
event names (a uuid), takes ids from sequences, claims unique keys (a subscriber's e-mail, one
or a batch at a time), reads or creates personal-data keys, erases subscribers, and stages
appends. Everything happens in the command's one transaction: the executor (``executor.py``)
writes the staged appends, records the idempotent outcome and commits, so a failed handler
appends nothing.

``PostgresEventStore`` is the adapter the executor hands out; ``tests/fake_store.py`` holds an
in-memory one with the same behaviour, against which handlers are unit-tested and which the
event-store contract suite (``tests/contract``) checks alongside this one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from events.base import Event
from events.crypto import SubscriberErased, create_keys, ensure_key, load_keys, shred_many
from events.store import StreamAppend
from kernel.errors import NotFound
from services.command_api.decider import Decider, load, load_many
from services.command_api.erasure import erase_copies

S = TypeVar("S")

# Unique-key indexes the store keeps (name -> table, key column, owner column).
EMAIL_INDEX = "subscriber_email"
USER_EMAIL_INDEX = "user_email"
_INDEXES = {EMAIL_INDEX: ("eventlog", "subscriber_emails", "email_hash", "subscriber_id"),
            USER_EMAIL_INDEX: ("eventlog", "user_emails", "email_hash", "user_id")}


class EventStore(Protocol):
    """Everything a command handler may read or change, inside one command's transaction."""

    async def load(self, stream_id: str, decider: Decider[S, Any]) -> tuple[S, int]:
        """The stream folded into its current state, and the stream's version (0: no stream)."""
        ...

    async def load_many(self, stream_ids: Iterable[str], decider: Decider[S, Any]
                        ) -> dict[str, tuple[S, int]]:
        """``load`` for many streams at once; a stream without events is at version 0."""
        ...

    async def find_streams(self, created: type[Event], field: str, values: Iterable[str]
                           ) -> dict[str, str]:
        """The streams whose ``created`` event holds ``field`` equal to one of ``values``,
        compared lower-cased: value (lower-cased) -> stream id, the earliest stream if several.
        How a command finds what a link or a form names by uuid (a list, a campaign) in the log
        itself, not in a read model."""
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

    async def claim_new(self, index: str, keys: Sequence[str], sequence: str) -> dict[str, int]:
        """A batch's claim: each of ``keys`` (distinct) that nobody holds is claimed for a fresh
        id of ``sequence`` (ids follow the order of ``keys``); the keys claimed -> their owner.
        Keys already held are left to their owner (``owners``); so is a key a concurrent,
        not yet committed command is claiming (it is in neither answer: try again)."""
        ...

    async def owner(self, index: str, key: str) -> int | None:
        """Who holds ``key`` in a unique index, if anyone."""
        ...

    async def owners(self, index: str, keys: Iterable[str]) -> dict[str, int]:
        """``owner`` for many keys at once: the keys held -> their owner."""
        ...

    async def release(self, index: str, owners: Iterable[int]) -> list[str]:
        """Drop the keys of ``owners`` from a unique index; the keys they held."""
        ...

    async def data_key(self, subscriber_id: int, *, create: bool = False) -> bytes | None:
        """The subscriber's personal-data key (made if ``create``); None once erased."""
        ...

    async def data_keys(self, subscriber_ids: Iterable[int], *, create: bool = False
                        ) -> dict[int, bytes]:
        """The data keys of those subscribers that still have one (made for those without
        one if ``create``: the batch form of ``data_key``, for ids just taken from the
        sequence). Erased subscribers are left out either way."""
        ...

    async def erase_subscribers(self, subscriber_ids: Iterable[int]) -> None:
        """Erase subscribers being deleted by this command: their data keys are destroyed (their
        events can no longer be read), their unique keys (e-mail) released, and every other copy
        of their personal data removed (``services/command_api/erasure.py``)."""
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

    async def find_streams(self, created: type[Event], field: str, values: Iterable[str]
                           ) -> dict[str, str]:
        wanted = sorted({v.lower() for v in values})
        if not wanted:
            return {}
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            "SELECT DISTINCT ON (value) value, stream_id FROM (SELECT lower(data->>%s) AS value,"
            " stream_id, global_position FROM eventlog.events WHERE category = %s AND type = %s)"
            " e WHERE value = ANY(%s) ORDER BY value, global_position",
            (field, created.CATEGORY, created.__struct_config__.tag, wanted))
        return {str(value): str(sid) for value, sid in await cur.fetchall()}

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

    async def claim_new(self, index: str, keys: Sequence[str], sequence: str) -> dict[str, int]:
        # One statement whatever the batch size. Ids follow the keys' order; rows are inserted
        # in key order, so two batches in flight that share keys lock them in the same order
        # (no deadlock).
        table, key_column, owner_column = _index(index)
        if not keys:
            return {}
        cur = await self.conn.cursor(row_factory=tuple_row).execute(sql.SQL(
            "WITH fresh AS (SELECT k, nextval({sequence}) AS id FROM"
            " (SELECT k FROM unnest(%b::text[]) WITH ORDINALITY AS t(k, ord) WHERE NOT EXISTS"
            " (SELECT 1 FROM {table} i WHERE i.{key} = k) ORDER BY ord) f)"
            " INSERT INTO {table} ({key}, {owner}) SELECT k, id FROM fresh ORDER BY k"
            " ON CONFLICT ({key}) DO NOTHING RETURNING {key}, {owner}").format(
                sequence=sql.Literal(sequence), table=table, key=key_column,
                owner=owner_column), (list(keys),))
        return {str(key): int(owner) for key, owner in await cur.fetchall()}

    async def owner(self, index: str, key: str) -> int | None:
        table, key_column, owner_column = _index(index)
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            sql.SQL("SELECT {} FROM {} WHERE {} = %s").format(owner_column, table, key_column),
            (key,))
        row = await cur.fetchone()
        return int(row[0]) if row is not None else None

    async def owners(self, index: str, keys: Iterable[str]) -> dict[str, int]:
        table, key_column, owner_column = _index(index)
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}
        cur = await self.conn.cursor(row_factory=tuple_row).execute(
            sql.SQL("SELECT {}, {} FROM {} WHERE {} = ANY(%b)").format(
                key_column, owner_column, table, key_column), (wanted,))
        return {str(key): int(owner) for key, owner in await cur.fetchall()}

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

    async def data_keys(self, subscriber_ids: Iterable[int], *, create: bool = False
                        ) -> dict[int, bytes]:
        ids = list(dict.fromkeys(subscriber_ids))
        if create:
            try:  # one statement for fresh ids, the case of every caller
                return await create_keys(self.conn, ids, master_key=self.master_key)
            except SubscriberErased:  # some had a key or were erased: theirs is what is stored
                pass
        return await load_keys(self.conn, ids, master_key=self.master_key)

    async def erase_subscribers(self, subscriber_ids: Iterable[int]) -> None:
        ids = sorted(set(subscriber_ids))
        if not ids:
            return
        await shred_many(self.conn, ids)
        email_hashes = await self.release(EMAIL_INDEX, ids)
        await erase_copies(self.conn, ids, email_hashes)


def _index(name: str) -> tuple[sql.Identifier, sql.Identifier, sql.Identifier]:
    schema, table, key_column, owner_column = _INDEXES[name]
    return (sql.Identifier(schema, table), sql.Identifier(key_column),
            sql.Identifier(owner_column))


Handler = Callable[..., Awaitable[dict[str, Any]]]
"""A command bound to its input: ``handler(store, **ports)`` returns the command's result."""


class PortFactory(Protocol):
    """Makes one of an aggregate's own ports (campaign lookups, tx storage...) on the command's
    connection, so its reads and writes share the command's transaction."""

    def __call__(self, conn: psycopg.AsyncConnection[Any], master_key: bytes | None) -> Any: ...


Ports = Mapping[str, PortFactory]
"""Ports a handler takes besides the store, by parameter name (``{"lookups": ...}``): the
executor builds each on the command's transaction and passes it by that name (cosmicpython's
bootstrap injects dependencies the same way). A unit test passes fakes directly."""


async def decide_on(store: EventStore, stream_id: str, decider: Decider[S, Any], command: Any
                    ) -> StreamAppend:
    """Load ``stream_id``, decide ``command`` and stage the events (also returned)."""
    state, version = await store.load(stream_id, decider)
    append = StreamAppend(stream_id, version, decider.decide(state, command))
    store.append(append)
    return append


async def decide_on_each(store: EventStore, ids: Iterable[int], stream_of: Callable[[int], str],
                         decider: Decider[S, Any], command_of: Callable[[int], Any]
                         ) -> list[str]:
    """``decide_on`` for each distinct id, in order; an id whose stream the decider answers
    with ``NotFound`` (unknown, or deleted since) is skipped, as listmonk ignores such ids in
    bulk commands. The streams changed."""
    changed: list[str] = []
    for target in dict.fromkeys(ids):
        try:
            append = await decide_on(store, stream_of(target), decider, command_of(target))
        except NotFound:
            continue
        changed.append(append.stream_id)
    return changed
