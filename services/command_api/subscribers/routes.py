"""Command routes of one subscriber: create, replace (PUT), patch, request opt-in.

Each binds the request, calls one handler (``handlers.py``) through the executor (idempotency,
one transaction, nothing appended on failure) and answers once the read models caught up, with
the JSON ``GET /api/subscribers/:id`` gives.
"""

from __future__ import annotations

import dataclasses
import uuid
from functools import partial
from typing import Any

from litestar import Request, Response, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.crypto import master_key_from
from kernel.errors import NotFound
from readmodels.lists import timestamp
from readmodels.subscriber_listing import mask_lists
from readmodels.subscribers import fetch_subscriber
from services.auth.guard import current_user, require_auth
from services.command_api.context import command_context
from services.command_api.executor import execute_handler
from services.command_api.respond import answer, run_handler
from services.command_api.subscribers import handlers
from services.command_api.subscribers.decider import SUBSCRIBER_NOT_FOUND
from services.command_api.subscribers.domains import DomainPolicy
from services.command_api.subscribers.fields import (
    SubscriberFields,
    fields_from_form,
    fields_from_json,
    sanitize_email,
)
from services.command_api.subscribers.routing import PROJECTIONS, now
from services.command_api.subscribers.scope import scope_of
from services.http.binding import read_body
from services.http.params import path_id
from services.runtime import Runtime


async def read_fields(request: Request[Any, Any, Any]) -> SubscriberFields:
    """The subscriber fields of a JSON or form body (an empty body binds nothing, other media
    types are 415, like echo's binder)."""
    return await read_body(request, fields_from_json, fields_from_form, SubscriberFields())


def _from_command(new: handlers.NewSubscriber, subscriber_id: int) -> dict[str, Any]:
    """The created subscriber as a GET would show it before its subscriptions are projected:
    the answer when the read model is late or cannot be read."""
    return {"id": subscriber_id, "created_at": timestamp(new.at),
            "updated_at": timestamp(new.at), "uuid": new.uuid, "email": new.email,
            "name": new.name, "attribs": new.attribs, "status": new.status, "lists": []}


@post("/api/subscribers", guards=[require_auth], operation_id="createSubscriber",
      status_code=200)
async def create_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    user = current_user(request)
    new = handlers.new_subscriber(await read_fields(request), str(uuid.uuid4()), now())
    # listmonk: the lists the list role may not manage are dropped (403 if none is left)
    new = dataclasses.replace(new, lists=user.target_lists(new.lists))
    DomainPolicy.of(await runtime.live_settings.get()).check(new.email)  # privacy.domain_*
    ctx = await command_context(request)
    outcome = await execute_handler(runtime.pool, ctx, partial(handlers.create_subscriber, new),
                                    master_key=master_key_from(runtime.settings.master_key))
    subscriber_id = int(outcome.result["subscriber_id"])
    # A retry answered from its key's record did not create anything now: the command's
    # input is not what was created, so only the read model can answer it.
    known = None if outcome.replayed else _from_command(new, subscriber_id)

    async def read() -> dict[str, Any]:
        found = await fetch_subscriber(runtime.read_pool, subscriber_id)
        if found is not None:
            return mask_lists(found, user.visible_lists())
        if known is not None:  # the projection is late: answer from the command
            return known
        raise NotFound(SUBSCRIBER_NOT_FOUND)  # a retry of a subscriber since deleted

    return await answer(runtime, ctx, outcome, PROJECTIONS, read, fallback=lambda: known)


async def _update(
    request: Request[Any, Any, Any], runtime: Runtime, target: int, *, partial_update: bool,
) -> Response[bytes]:
    """PUT replaces the profile and the subscriptions; PATCH changes only what was sent."""
    user = current_user(request)
    fields = await read_fields(request)
    if fields.lists is not None:  # listmonk: lists the role may not manage are dropped
        fields = dataclasses.replace(fields, lists=user.target_lists(fields.lists))
    update = dataclasses.replace(
        handlers.subscriber_update(target, fields, partial=partial_update, at=now()),
        scope=scope_of(user))
    sent = update.email if update.email is not None else update.fields.email
    if sent:  # listmonk checks privacy.domain_* on every e-mail sent
        DomainPolicy.of(await runtime.live_settings.get()).check(sanitize_email(sent))

    async def read() -> dict[str, Any]:
        found = await fetch_subscriber(runtime.read_pool, target)
        if found is None:
            raise NotFound(SUBSCRIBER_NOT_FOUND)
        return mask_lists(found, user.visible_lists())

    return await run_handler(request, runtime, partial(handlers.update_subscriber, update),
                             PROJECTIONS, read)


@put("/api/subscribers/{subscriber_id:str}", guards=[require_auth],
     operation_id="updateSubscriberById", status_code=200)
async def update_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Replace a subscriber: every field is set (lists not sent means no lists, attribs not
    sent means ``{}``); an empty name or status keeps the current one."""
    return await _update(request, runtime, path_id(subscriber_id), partial_update=False)


@patch("/api/subscribers/{subscriber_id:str}", guards=[require_auth],
       operation_id="patchSubscriberById", status_code=200)
async def patch_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Change only the fields sent; ``lists`` sent replaces the subscriptions, ``attribs``
    sent are merged into the current ones (``null`` clears them)."""
    return await _update(request, runtime, path_id(subscriber_id), partial_update=True)


@post("/api/subscribers/{subscriber_id:str}/optin", guards=[require_auth],
      operation_id="subscriberSendOptinById", status_code=200)
async def request_optin(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Record an ``subscriber.optin_requested`` for its unconfirmed double opt-in lists (the
    sender delivers the e-mail); nothing is recorded when there are none. Answers true."""
    target = path_id(subscriber_id)
    scope = scope_of(current_user(request))
    return await run_handler(request, runtime, partial(handlers.request_optin, target, now(),
                                                       scope=scope), PROJECTIONS)
