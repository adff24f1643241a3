"""Steps shared by the subscriber endpoints: reading bodies, loading a subscriber in the command's
transaction, and running one command over many subscribers (bulk operations)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import psycopg
from litestar import Request

from events.crypto import master_key_from, shred
from events.store import StreamAppend
from postlog.runtime import Runtime
from services.command_api.decider import load
from services.command_api.domain import NotFound
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
from services.command_api.subscribers.index import forget_subscriber
from services.http.errors import APIError

# The read models a subscriber command changes (read-your-writes waits for all of them).
PROJECTIONS = ("subscribers", "lists", "subscriber_counts", "bounces")


def now() -> datetime:
    return datetime.now(UTC)


def master_key(runtime: Runtime) -> bytes | None:
    return master_key_from(runtime.settings.master_key)


async def read_fields(request: Request[Any, Any, Any]) -> SubscriberFields:
    """The subscriber fields of a JSON or form body (an empty body binds nothing, other media
    types are 415, like echo's binder)."""
    body = await request.body()
    if not body:
        return SubscriberFields()
    media_type = request.content_type[0].lower()
    if media_type == "application/json":
        return fields_from_json(body)
    if media_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.form()
        return fields_from_form({k: [str(v) for v in form.getall(k)] for k in form})
    raise APIError(415, "Unsupported Media Type")


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


Prepare = Callable[[psycopg.AsyncConnection[Any], Active], Awaitable[None]]


async def for_each_subscriber(
    conn: psycopg.AsyncConnection[Any],
    subscriber_ids: Iterable[int],
    command: Callable[[int], SubscriberCommand],
    before: Prepare | None = None,
) -> list[StreamAppend]:
    """Appends of one command per live subscriber; unknown or deleted ids are skipped, as
    listmonk ignores them. ``before`` runs for each live subscriber first (same transaction)."""
    appends: list[StreamAppend] = []
    for subscriber_id in dict.fromkeys(subscriber_ids):
        try:
            state, version = await load_active(conn, subscriber_id)
        except NotFound:
            continue
        if before is not None:
            await before(conn, state)
        appends.append(decided(state, version, command(subscriber_id)))
    return appends


async def erase_subscriber(conn: psycopg.AsyncConnection[Any], state: Active) -> None:
    """Crypto-shred a subscriber that is being deleted (same transaction as its
    ``subscriber.deleted``): destroy its data key, drop its e-mail index row and the stored
    answers of its idempotent commands."""
    await shred(conn, state.subscriber_id)
    await forget_subscriber(conn, state.subscriber_id)
