"""Command-side lookups and indexes for subscribers, used inside the command's transaction.

- ``eventlog.subscriber_emails``: one row per live subscriber keyed by a SHA-256 of its
  lower-cased e-mail (never the address itself), so e-mails are unique case-insensitively. Rows
  are written and deleted in the same transaction as the events, and a subscriber's row is
  deleted when it is erased.
- Lists are looked up from their event streams (the command side does not read read models).
- An erased subscriber's index row is deleted (``forget_subscribers``); the rest of its
  erasure is ``services/command_api/erasure.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from events.crypto import ensure_key, load_keys
from events.lists import ListCreated, ListOptin, ListType
from events.registry import decode_event
from kernel.errors import Conflict
from services.command_api.lists.decider import Active as ActiveList
from services.command_api.lists.decider import list_decider

EMAIL_EXISTS = "E-mail already exists."


def email_hash(email: str) -> str:
    """The index key of an e-mail: hex SHA-256 of its lower-cased form."""
    return hashlib.sha256(email.lower().encode()).hexdigest()


async def claim_email(conn: psycopg.AsyncConnection[Any], subscriber_id: int, email: str) -> None:
    """Index ``email`` as the subscriber's (dropping its previous one); 409 if another
    subscriber has it, including one created by a concurrent, not yet committed command."""
    key = email_hash(email)
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT subscriber_id FROM eventlog.subscriber_emails WHERE email_hash = %s", (key,))
    row = await cur.fetchone()
    if row is not None:
        if int(row[0]) == subscriber_id:
            return
        raise Conflict(EMAIL_EXISTS)
    await conn.execute(
        "DELETE FROM eventlog.subscriber_emails WHERE subscriber_id = %s", (subscriber_id,))
    try:
        await conn.execute(
            "INSERT INTO eventlog.subscriber_emails (email_hash, subscriber_id) VALUES (%s, %s)",
            (key, subscriber_id))
    except psycopg.errors.UniqueViolation:
        raise Conflict(EMAIL_EXISTS) from None


async def subscriber_with_email(conn: psycopg.AsyncConnection[Any], email: str) -> int | None:
    """The id of the live subscriber indexed with ``email`` (case-insensitively), if any."""
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT subscriber_id FROM eventlog.subscriber_emails WHERE email_hash = %s",
        (email_hash(email),))
    row = await cur.fetchone()
    return int(row[0]) if row is not None else None


async def forget_subscribers(
    conn: psycopg.AsyncConnection[Any], subscriber_ids: Iterable[int]
) -> list[str]:
    """Delete the e-mail index rows of erased subscribers; the hashes they held, so the rest
    of the erasure (``services.command_api.erasure``) can find what was kept by address."""
    ids = sorted(set(subscriber_ids))
    if not ids:
        return []
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "DELETE FROM eventlog.subscriber_emails WHERE subscriber_id = ANY(%s)"
        " RETURNING email_hash", (ids,))
    return [str(row[0]) for row in await cur.fetchall()]


@dataclass(frozen=True)
class LiveList:
    """A list that exists now, as subscriptions need it."""

    list_id: int
    uuid: str
    list_type: ListType
    optin: ListOptin


async def lists_by_id(
    conn: psycopg.AsyncConnection[Any], list_ids: Iterable[int]
) -> dict[int, LiveList]:
    """The lists of ``list_ids`` that exist now (deleted or unknown ones are left out), read
    from the lists' streams."""
    wanted = sorted({i for i in list_ids if i > 0})
    if not wanted:
        return {}
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT stream_id, type, schema_version, data FROM eventlog.events"
        " WHERE stream_id = ANY(%s) ORDER BY stream_id, version",
        ([f"list-{i}" for i in wanted],))
    found: dict[int, LiveList] = {}
    for _, rows in groupby(await cur.fetchall(), key=lambda r: r[0]):
        events = [decode_event(r[1], r[2], r[3]) for r in rows]
        state = list_decider.fold(events)
        if isinstance(state, ActiveList) and isinstance(events[0], ListCreated):
            found[state.list_id] = LiveList(list_id=state.list_id, uuid=events[0].uuid,
                                            list_type=state.list_type, optin=state.optin)
    return found


async def lists_by_uuid(
    conn: psycopg.AsyncConnection[Any], uuids: Iterable[str]
) -> dict[str, LiveList]:
    """The lists with these uuids that exist now, by lower-cased uuid (public requests name
    lists by uuid, which only their ``list.created`` event holds; lists are few)."""
    wanted = sorted({u.lower() for u in uuids})
    if not wanted:
        return {}
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT DISTINCT (data->>'list_id')::bigint FROM eventlog.events"
        " WHERE category = 'list' AND type = 'list.created' AND lower(data->>'uuid') = ANY(%s)",
        (wanted,))
    ids = [int(row[0]) for row in await cur.fetchall()]
    return {found.uuid.lower(): found for found in (await lists_by_id(conn, ids)).values()}


async def live_lists(
    conn: psycopg.AsyncConnection[Any], list_ids: Iterable[int]
) -> dict[int, ListOptin]:
    """The opt-in type of each of ``list_ids`` that exists now."""
    return {i: found.optin for i, found in (await lists_by_id(conn, list_ids)).items()}


async def subscriber_key(
    conn: psycopg.AsyncConnection[Any], subscriber_id: int, master_key: bytes | None,
    *, create: bool = False,
) -> bytes | None:
    """The subscriber's data key (created when ``create``); None once it was erased."""
    if create:
        return await ensure_key(conn, subscriber_id, master_key=master_key)
    return (await load_keys(conn, [subscriber_id], master_key=master_key)).get(subscriber_id)


async def next_subscriber_id(conn: psycopg.AsyncConnection[Any]) -> int:
    cur = await conn.cursor(row_factory=tuple_row).execute(
        "SELECT nextval('eventlog.subscriber_id_seq')")
    row = await cur.fetchone()
    assert row is not None
    return int(row[0])
