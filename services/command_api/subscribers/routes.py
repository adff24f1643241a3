"""Command endpoints of one subscriber: create, replace (PUT), patch, request opt-in.

Each runs through the executor (idempotency, one transaction, nothing appended on failure) and
answers once the read models caught up, with the JSON ``GET /api/subscribers/:id`` gives.
Personal data is sealed with the subscriber's key before it reaches an event; the e-mail index
and the key are written in the same transaction as the events.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import psycopg
from litestar import Request, Response, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.store import StreamAppend
from kernel.errors import NotFound
from readmodels.lists import timestamp
from readmodels.subscribers import fetch_subscriber
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.executor import Decision, execute
from services.command_api.respond import answer
from services.command_api.subscribers.commands import (
    CreateSubscriber,
    RequestOptin,
    UpdateSubscriber,
)
from services.command_api.subscribers.decider import (
    SUBSCRIBER_NOT_FOUND,
    Absent,
    stream_id,
    subscriber_decider,
)
from services.command_api.subscribers.fields import SubscriberFields, sanitize_email
from services.command_api.subscribers.handling import (
    PROJECTIONS,
    decided,
    load_active,
    master_key,
    now,
    read_fields,
)
from services.command_api.subscribers.index import (
    claim_email,
    live_lists,
    next_subscriber_id,
    subscriber_key,
)
from services.command_api.subscribers.sealing import seal, unseal
from services.http.params import path_id
from services.runtime import Runtime


def _existing(requested: tuple[int, ...] | None, lists: Mapping[int, str]) -> tuple[int, ...]:
    """The requested list ids that exist, in the order given, without repeats (listmonk
    silently ignores unknown lists)."""
    return tuple(i for i in dict.fromkeys(requested or ()) if i in lists)


def _double(lists: Mapping[int, str]) -> frozenset[int]:
    return frozenset(i for i, optin in lists.items() if optin == "double")


@post("/api/subscribers", guards=[require_auth], operation_id="createSubscriber",
      status_code=200)
async def create_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    fields = await read_fields(request)
    email = fields.create_email()
    name = fields.create_name(email)
    status = fields.status_or("enabled") or "enabled"
    attribs = fields.attribs or {}
    at = now()
    ctx = await command_context(request)
    master = master_key(runtime)
    created: list[dict[str, Any]] = []

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        subscriber_id = await next_subscriber_id(conn)
        await claim_email(conn, subscriber_id, email)
        lists = await live_lists(conn, fields.lists or ())
        key = await subscriber_key(conn, subscriber_id, master, create=True)
        assert key is not None
        command = CreateSubscriber(
            subscriber_id=subscriber_id, uuid=str(uuid.uuid4()),
            email=seal(key, subscriber_id, "email", email),
            name=seal(key, subscriber_id, "name", name),
            attribs=seal(key, subscriber_id, "attribs", attribs), status=status,
            list_ids=_existing(fields.lists, lists), double_optin=_double(lists),
            preconfirm=fields.preconfirm, at=at)
        created[:] = [{"id": subscriber_id, "created_at": timestamp(at),
                       "updated_at": timestamp(at), "uuid": command.uuid, "email": email,
                       "name": name, "attribs": attribs, "status": status, "lists": []}]
        events = subscriber_decider.decide(Absent(), command)
        return Decision([StreamAppend(stream_id(subscriber_id), 0, events)],
                        {"subscriber_id": subscriber_id})

    outcome = await execute(runtime.pool, ctx, decide)
    subscriber_id = int(outcome.result["subscriber_id"])

    async def read() -> dict[str, Any]:
        found = await fetch_subscriber(runtime.read_pool, subscriber_id)
        if found is not None:
            return found
        if created:  # the projection is late: answer from the command
            return created[0]
        raise NotFound(SUBSCRIBER_NOT_FOUND)  # a retry of a subscriber since deleted

    return await answer(runtime, ctx, outcome, PROJECTIONS, read,
                        fallback=lambda: created[0] if created else None)


async def _update(
    request: Request[Any, Any, Any], runtime: Runtime, target: int, fields: SubscriberFields,
    *, partial: bool,
) -> Response[bytes]:
    """PUT replaces the profile and the subscriptions; PATCH changes only what was sent."""
    name = fields.update_name()
    status = fields.status_or(None)
    put_email = None if partial else sanitize_email(fields.email or "")
    at = now()
    ctx = await command_context(request)
    master = master_key(runtime)

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        state, version = await load_active(conn, target)
        key = await subscriber_key(conn, target, master)
        if key is None:
            raise NotFound(SUBSCRIBER_NOT_FOUND)
        attribs: dict[str, Any] | None = fields.attribs or {}
        new_email = put_email if not partial else (
            None if fields.email is None else sanitize_email(fields.email))
        if partial:
            attribs = None
            if fields.attribs_sent:  # Go decodes an object into the current map: a merge
                current = unseal(key, target, "attribs", state.attribs)
                attribs = {**current, **fields.attribs} if fields.attribs is not None else {}
        if new_email is not None:
            await claim_email(conn, target, new_email)
        lists = await live_lists(conn, fields.lists or ())
        list_ids = None if partial and fields.lists is None else _existing(fields.lists, lists)
        command = UpdateSubscriber(
            subscriber_id=target,
            email=seal(key, target, "email", new_email) if new_email is not None else None,
            name=seal(key, target, "name", name) if name is not None else None,
            attribs=seal(key, target, "attribs", attribs) if attribs is not None else None,
            status=status, list_ids=list_ids, double_optin=_double(lists),
            preconfirm=fields.preconfirm, at=at)
        return Decision([decided(state, version, command)], {"subscriber_id": target})

    outcome = await execute(runtime.pool, ctx, decide)

    async def read() -> dict[str, Any]:
        found = await fetch_subscriber(runtime.read_pool, target)
        if found is None:
            raise NotFound(SUBSCRIBER_NOT_FOUND)
        return found

    return await answer(runtime, ctx, outcome, PROJECTIONS, read)


@put("/api/subscribers/{subscriber_id:str}", guards=[require_auth],
     operation_id="updateSubscriberById", status_code=200)
async def update_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Replace a subscriber: every field is set (lists not sent means no lists, attribs not
    sent means ``{}``); an empty name or status keeps the current one."""
    target = path_id(subscriber_id)
    return await _update(request, runtime, target, await read_fields(request), partial=False)


@patch("/api/subscribers/{subscriber_id:str}", guards=[require_auth],
       operation_id="patchSubscriberById", status_code=200)
async def patch_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Change only the fields sent; ``lists`` sent replaces the subscriptions, ``attribs``
    sent are merged into the current ones (``null`` clears them)."""
    target = path_id(subscriber_id)
    return await _update(request, runtime, target, await read_fields(request), partial=True)


@post("/api/subscribers/{subscriber_id:str}/optin", guards=[require_auth],
      operation_id="subscriberSendOptinById", status_code=200)
async def request_optin(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Record an ``subscriber.optin_requested`` for its unconfirmed double opt-in lists (the
    sender delivers the e-mail); nothing is recorded when there are none. Answers true."""
    target = path_id(subscriber_id)
    ctx = await command_context(request)
    at = now()

    async def decide(conn: psycopg.AsyncConnection[Any]) -> Decision:
        state, version = await load_active(conn, target)
        lists = await live_lists(conn, state.subscriptions)
        command = RequestOptin(subscriber_id=target, double_optin=_double(lists), at=at)
        return Decision([decided(state, version, command)], {"subscriber_id": target})

    outcome = await execute(runtime.pool, ctx, decide)
    return await answer(runtime, ctx, outcome, PROJECTIONS)
