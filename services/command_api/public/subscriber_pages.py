"""The POST side of the subscriber pages (links in e-mails), without credentials:

- ``/subscription/optin/:subUUID``: confirm the unconfirmed subscriptions (of the lists ``l``).
- ``/subscription/:campUUID/:subUUID``: unsubscribe from the campaign's lists (also the RFC 8058
  one-click POST), from everything with ``blocklist=true``, or with ``manage=true`` save the
  name and unsubscribe from the (non-private) lists not ticked in ``l``.
- ``/subscription/export/:subUUID``: the subscriber's data as a JSON download.
- ``/subscription/wipe/:subUUID``: delete and erase the subscriber, exactly as
  ``DELETE /api/subscribers/:id`` does (crypto-shredding).

Each answers with a page; a malformed uuid is a 400 page, an unknown subscriber a 404 page.
The subscriber is found by uuid in the read model, then decided on from its event stream.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import psycopg
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.base import Event
from events.store import StreamAppend
from kernel.errors import DomainError
from readmodels.public import export_of, is_uuid
from services.command_api.executor import Decision, execute
from services.command_api.public.forms import form_values, public_context, settle
from services.command_api.public.lookups import campaign_list_ids
from services.command_api.subscribers.commands import (
    AddSubscriptions,
    BlocklistSubscriber,
    DeleteSubscriber,
    SubscriberCommand,
    UnsubscribeLists,
    UpdateSubscriber,
)
from services.command_api.subscribers.decider import Active, stream_id, subscriber_decider
from services.command_api.subscribers.fields import INVALID_NAME, valid_name
from services.command_api.subscribers.handling import (
    erase_subscribers,
    for_each_subscriber,
    load_active,
    master_key,
    now,
)
from services.command_api.subscribers.index import lists_by_id, subscriber_key
from services.command_api.subscribers.sealing import seal
from services.http.errors import APIError
from services.http.pages import error_page, message_page
from services.http.params import go_bool
from services.http.public_views import (
    BLOCKLISTED,
    CONFIRMED,
    DATA_WIPED,
    INVALID_UUID,
    NOTHING_TO_CONFIRM,
    PREFERENCES_SAVED,
    SUBSCRIBER_NOT_FOUND,
    UNSUBSCRIBED,
    find_subscriber,
)
from services.runtime import Runtime

MANAGE_NAME_MAX_BYTES = 256

# Decides on a loaded subscriber: the events to append (possibly none).
Step = Callable[[psycopg.AsyncConnection[Any], Active], Awaitable[list[Event]]]


def _events(state: Active, *commands: SubscriberCommand) -> list[Event]:
    """The events of several commands decided one after the other on one subscriber."""
    events: list[Event] = []
    for command in commands:
        decided = subscriber_decider.decide(state, command)
        events += decided
        for event in decided:
            evolved = subscriber_decider.evolve(state, event)
            assert isinstance(evolved, Active)
            state = evolved
    return events


async def _run(request: Request[Any, Any, Any], runtime: Runtime, subscriber_id: int,
               step: Step) -> Response[str] | None:
    """Load the subscriber, append what ``step`` decides, wait for the read models. None when
    it went well, else the error page to answer."""
    ctx = await public_context(request)

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        state, version = await load_active(conn, subscriber_id)
        events = await step(conn, state)
        return Decision([StreamAppend(stream_id(subscriber_id), version, events)],
                        {"subscriber_id": subscriber_id, "changed": bool(events)})

    try:
        outcome = await execute(runtime.pool, ctx, decide)
    except DomainError as exc:
        message = SUBSCRIBER_NOT_FOUND if exc.status_code == 404 else exc.message
        return error_page(message, status_code=exc.status_code)
    await settle(runtime, outcome)
    return None


@post("/subscription/optin/{subscriber_uuid:str}", operation_id="publicOptinConfirm",
      status_code=200)
async def confirm_optin(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_uuid: FromPath[str],
) -> Response[str]:
    """Confirm the subscriber's unconfirmed subscriptions (only those of the lists ``l``, when
    given)."""
    found = await find_subscriber(runtime.read_pool, subscriber_uuid)
    if isinstance(found, Response):
        return found
    try:
        values = await form_values(request, with_query=True)
    except APIError as exc:
        return error_page(exc.message, status_code=exc.status_code)
    chosen = {u.lower() for u in values.get("l", [])}
    if not all(is_uuid(u) for u in chosen):
        return error_page(INVALID_UUID, status_code=400)
    confirmed: list[int] = []

    async def step(conn: psycopg.AsyncConnection[Any], state: Active) -> list[Event]:
        lists = await lists_by_id(conn, state.subscriptions)
        confirmed[:] = [i for i, status in sorted(state.subscriptions.items())
                        if status == "unconfirmed" and i in lists
                        and (not chosen or lists[i].uuid.lower() in chosen)]
        return _events(state, AddSubscriptions(subscriber_id=state.subscriber_id,
                                               list_ids=tuple(confirmed), status="confirmed",
                                               at=now()))

    failed = await _run(request, runtime, found.id, step)
    if failed is not None:
        return failed
    return message_page(*CONFIRMED) if confirmed else message_page(*NOTHING_TO_CONFIRM)


@post("/subscription/{campaign_uuid:str}/{subscriber_uuid:str}",
      operation_id="publicSubscriptionPrefs", status_code=200)
async def unsubscribe(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    campaign_uuid: FromPath[str], subscriber_uuid: FromPath[str],
) -> Response[str]:
    """Unsubscribe (one click), blocklist, or save preferences (``manage=true``)."""
    found = await find_subscriber(runtime.read_pool, campaign_uuid, subscriber_uuid)
    if isinstance(found, Response):
        return found
    try:
        values = await form_values(request)
    except APIError as exc:
        return error_page(exc.message, status_code=exc.status_code)
    first = {key: items[0] for key, items in values.items() if items}
    blocklist, manage = go_bool(first.get("blocklist")), go_bool(first.get("manage"))
    at = now()
    if blocklist or not manage:
        async def leave(conn: psycopg.AsyncConnection[Any], state: Active) -> list[Event]:
            if blocklist:
                return _events(state, BlocklistSubscriber(subscriber_id=state.subscriber_id,
                                                          at=at))
            lists = tuple(await campaign_list_ids(conn, campaign_uuid))
            return _events(state, UnsubscribeLists(subscriber_id=state.subscriber_id,
                                                   list_ids=lists, at=at))

        failed = await _run(request, runtime, found.id, leave)
        return failed or message_page(*(BLOCKLISTED if blocklist else UNSUBSCRIBED))

    raw_name = first.get("name", "")
    try:
        name = valid_name(raw_name)
    except DomainError as exc:
        return error_page(exc.message, status_code=400)
    if not name or len(name.encode()) > MANAGE_NAME_MAX_BYTES:
        return error_page(INVALID_NAME, status_code=400)
    kept = {u.lower() for u in values.get("l", [])}
    master = master_key(runtime)

    async def save(conn: psycopg.AsyncConnection[Any], state: Active) -> list[Event]:
        key = await subscriber_key(conn, state.subscriber_id, master)
        lists = await lists_by_id(conn, state.subscriptions)
        dropped = tuple(i for i in sorted(state.subscriptions) if i in lists
                        and lists[i].list_type != "private" and lists[i].uuid.lower() not in kept)
        commands: list[SubscriberCommand] = [UnsubscribeLists(
            subscriber_id=state.subscriber_id, list_ids=dropped, at=at)]
        if key is not None:
            commands.insert(0, UpdateSubscriber(
                subscriber_id=state.subscriber_id,
                name=seal(key, state.subscriber_id, "name", name), at=at))
        return _events(state, *commands)

    failed = await _run(request, runtime, found.id, save)
    return failed or message_page(*PREFERENCES_SAVED)


@post("/subscription/export/{subscriber_uuid:str}", operation_id="publicSubscriberExport",
      status_code=200)
async def export_data(
    runtime: NamedDependency[Runtime], subscriber_uuid: FromPath[str]
) -> Response[Any]:
    """The subscriber's data (profile, subscriptions, views, clicks) as ``data.json``."""
    found = await find_subscriber(runtime.read_pool, subscriber_uuid)
    if isinstance(found, Response):
        return found
    data = await export_of(runtime.read_pool, subscriber_uuid)
    if data is None:
        return error_page(SUBSCRIBER_NOT_FOUND, status_code=404)
    body = msgspec.json.format(msgspec.json.encode(data), indent=2)
    return Response(content=body, status_code=200, media_type="application/json",
                    headers={"Content-Disposition": 'attachment; filename="data.json"',
                             "Cache-Control": "no-store", "X-Robots-Tag": "noindex"})


@post("/subscription/wipe/{subscriber_uuid:str}", operation_id="publicSubscriberWipe",
      status_code=200)
async def wipe_data(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_uuid: FromPath[str],
) -> Response[str]:
    """Delete the subscriber and erase its personal data (its data key is destroyed in the
    same transaction, as ``DELETE /api/subscribers/:id`` does)."""
    found = await find_subscriber(runtime.read_pool, subscriber_uuid)
    if isinstance(found, Response):
        return found
    ctx = await public_context(request)
    at = now()

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        appends = await for_each_subscriber(
            conn, (found.id,), lambda sid: DeleteSubscriber(subscriber_id=sid, at=at),
            erase_subscribers)
        return Decision(appends, {"subscriber_ids": [found.id]})

    await settle(runtime, await execute(runtime.pool, ctx, decide))
    return message_page(*DATA_WIPED)
