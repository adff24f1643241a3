"""Steps shared by the subscriber endpoints: reading bodies, loading a subscriber in the command's
transaction, and running one command over many subscribers (bulk operations)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from litestar import Request

from events.crypto import master_key_from
from events.store import StreamAppend
from kernel.errors import NotFound
from services.command_api.decider import load, load_many
from services.command_api.erasure import erase_subscribers as erase_ids
from services.command_api.subscribers.commands import SubscriberCommand
from services.command_api.subscribers.decider import (
    SUBSCRIBER_NOT_FOUND,
    Active,
    stream_id,
    subscriber_decider,
)
from services.command_api.subscribers.fields import (
    SubscriberFields,
    fields_from_form,
    fields_from_json,
)
from services.http.binding import read_body
from services.runtime import Runtime

# The read models a subscriber command changes (read-your-writes waits for all of them).
PROJECTIONS = ("subscribers", "lists", "subscriber_counts", "bounces")


def now() -> datetime:
    return datetime.now(UTC)


def master_key(runtime: Runtime) -> bytes | None:
    return master_key_from(runtime.settings.master_key)


async def read_fields(request: Request[Any, Any, Any]) -> SubscriberFields:
    """The subscriber fields of a JSON or form body (an empty body binds nothing, other media
    types are 415, like echo's binder)."""
    return await read_body(request, fields_from_json, fields_from_form, SubscriberFields())


async def load_active(
    conn: psycopg.AsyncConnection[Any], subscriber_id: int
) -> tuple[Active, int]:
    """The live subscriber and its stream version; 404 if it does not exist (any more)."""
    state, version = await load(conn, stream_id(subscriber_id), subscriber_decider)
    if not isinstance(state, Active):
        raise NotFound(SUBSCRIBER_NOT_FOUND)
    return state, version


def decided(state: Active, version: int, command: SubscriberCommand) -> StreamAppend:
    """The append of ``command``'s events on a loaded subscriber."""
    return StreamAppend(stream_id=stream_id(state.subscriber_id), expected_version=version,
                        events=subscriber_decider.decide(state, command))


# Runs once per batch on the live subscribers about to be decided on (same transaction).
Prepare = Callable[[psycopg.AsyncConnection[Any], list[Active]], Awaitable[None]]


async def for_each_subscriber(
    conn: psycopg.AsyncConnection[Any],
    subscriber_ids: Iterable[int],
    command: Callable[[int], SubscriberCommand],
    before: Prepare | None = None,
) -> list[StreamAppend]:
    """Appends of one command per live subscriber; unknown or deleted ids are skipped, as
    listmonk ignores them. ``before`` runs first on all the live ones (same transaction)."""
    ids = list(dict.fromkeys(subscriber_ids))
    loaded = await load_many(conn, [stream_id(i) for i in ids], subscriber_decider)
    live = [(state, version) for state, version in (loaded[stream_id(i)] for i in ids)
            if isinstance(state, Active)]
    if before is not None and live:
        await before(conn, [state for state, _ in live])
    return [decided(state, version, command(state.subscriber_id)) for state, version in live]


async def erase_subscribers(conn: psycopg.AsyncConnection[Any], states: list[Active]) -> None:
    """Erase subscribers that are being deleted (same transaction as their
    ``subscriber.deleted``): destroy their data keys and everything else that holds their
    personal data (``services/command_api/erasure.py``)."""
    await erase_ids(conn, [state.subscriber_id for state in states])
