"""Command routes over one or many subscribers: blocklist, manage list subscriptions, delete.

Each request binds its ids and calls one handler (``handlers_bulk.py``) as one command (all
subscribers or none). Unknown or already deleted ids are ignored, as listmonk ignores them, and
the answer is ``{"data": true}``. Deleting a subscriber erases it: its data key is destroyed and
its e-mail index row deleted in the transaction that appends ``subscriber.deleted``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from litestar import Request, Response, delete, put
from litestar.di import NamedDependency
from litestar.params import FromPath

from kernel.errors import InvalidInput
from services.auth.guard import current_user, require_auth
from services.command_api.respond import run_handler
from services.command_api.store import Handler
from services.command_api.subscribers import handlers_bulk
from services.command_api.subscribers.fields import subscription_status
from services.command_api.subscribers.routing import PROJECTIONS, now
from services.command_api.subscribers.scope import ListScope, scope_of
from services.http.binding import (
    bind_object,
    int_list_field,
    string_field,
)
from services.http.errors import APIError
from services.http.params import go_atoi, parse_ids, path_id
from services.runtime import Runtime

INVALID_IDS = "One or more IDs are invalid: {}"
INVALID_ID = "Invalid ID(s)"
NO_IDS = "No IDs given."
NO_LISTS = "No lists given."
INVALID_ACTION = "Invalid action."


async def _ids_body(request: Request[Any, Any, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The body of a bulk request; a malformed one is 400 ``One or more IDs are invalid``."""
    try:
        return bind_object(await request.body(), fields)
    except InvalidInput as exc:
        raise APIError(400, INVALID_IDS.format(exc.message)) from None


def _int_list(data: dict[str, Any], name: str) -> tuple[int, ...]:
    try:
        return int_list_field(data, name) or ()
    except InvalidInput as exc:
        raise APIError(400, INVALID_IDS.format(exc.message)) from None


async def _run(request: Request[Any, Any, Any], runtime: Runtime, handler: Handler
               ) -> Response[bytes]:
    """Run the bulk ``handler`` as the request's command; answers true."""
    return await run_handler(request, runtime, handler, PROJECTIONS)


def _scope(request: Request[Any, Any, Any]) -> ListScope:
    """listmonk's ``hasSubPerm``: every live subscriber named must be on a list the caller's
    list role reaches (checked by the handler on the state it loads; 403 appends nothing)."""
    return scope_of(current_user(request))


@put("/api/subscribers/{subscriber_id:str}/blocklist", guards=[require_auth],
     operation_id="manageBlocklistSubscribersById", status_code=200)
async def blocklist_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Blocklist one subscriber; every subscription of it becomes ``unsubscribed``."""
    target = path_id(subscriber_id)
    return await _run(request, runtime, partial(
        handlers_bulk.blocklist_subscribers, (target,), now(), scope=_scope(request)))


@put("/api/subscribers/blocklist", guards=[require_auth],
     operation_id="manageBlocklistBySubscriberList", status_code=200)
async def blocklist_subscribers(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Blocklist the subscribers of ``{"ids": [...]}``."""
    ids = _int_list(await _ids_body(request, ("ids",)), "ids")
    if not ids:
        raise APIError(400, INVALID_IDS.format("ids"))
    return await _run(request, runtime, partial(
        handlers_bulk.blocklist_subscribers, ids, now(), scope=_scope(request)))


async def _manage_lists(
    request: Request[Any, Any, Any], runtime: Runtime, path_target: int | None
) -> Response[bytes]:
    data = await _ids_body(request, ("ids", "action", "target_list_ids", "status"))
    ids = _int_list(data, "ids")
    if not ids:
        raise APIError(400, NO_IDS)
    if path_target is not None:
        ids = (path_target,)
    target_lists = _int_list(data, "target_list_ids")
    if not target_lists:
        raise APIError(400, NO_LISTS)
    user = current_user(request)
    scope = scope_of(user)
    # listmonk: only the target lists the list role manages (403 if none); the subscribers'
    # reach is checked by the handler, on the state it loads.
    target_lists = user.target_lists(target_lists)
    try:
        action = string_field(data, "action") or ""
        status_text = string_field(data, "status") or ""
    except InvalidInput as exc:
        raise APIError(400, INVALID_IDS.format(exc.message)) from None
    at = now()
    if action == "add":
        status = subscription_status(status_text) if status_text else None
        return await _run(request, runtime, partial(
            handlers_bulk.add_subscriptions, ids, target_lists, status, at, scope=scope))
    if action == "remove":
        return await _run(request, runtime, partial(
            handlers_bulk.remove_subscriptions, ids, target_lists, at, scope=scope))
    if action == "unsubscribe":
        return await _run(request, runtime, partial(
            handlers_bulk.unsubscribe_lists, ids, target_lists, at, scope=scope))
    raise APIError(400, INVALID_ACTION)


@put("/api/subscribers/lists", guards=[require_auth], operation_id="manageSubscriberLists",
     status_code=200)
async def manage_subscriber_lists(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """``{"ids", "action": add|remove|unsubscribe, "target_list_ids", "status"}``: add
    subscriptions (with ``status``, default ``unconfirmed``; existing ones take ``status`` if
    given), delete them, or mark them ``unsubscribed``. Unknown lists are ignored."""
    return await _manage_lists(request, runtime, None)


@put("/api/subscribers/lists/{subscriber_id:str}", guards=[require_auth],
     operation_id="manageSubscriberListById", status_code=200)
async def manage_subscriber_lists_by_id(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """As ``PUT /api/subscribers/lists`` for the subscriber in the path (listmonk still wants a
    non-empty ``ids`` in the body, and ignores it)."""
    target = go_atoi(subscriber_id) or 0
    if target < 1:
        raise APIError(400, INVALID_ID)  # listmonk's message here differs from path_id's
    return await _manage_lists(request, runtime, target)


@delete("/api/subscribers/{subscriber_id:str}", guards=[require_auth],
        operation_id="deleteSubscriberById", status_code=200)
async def delete_subscriber(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    """Delete and erase one subscriber (true even when it does not exist)."""
    target = path_id(subscriber_id)
    return await _run(request, runtime, partial(
        handlers_bulk.delete_subscribers, (target,), now(), scope=_scope(request)))


@delete("/api/subscribers", guards=[require_auth], operation_id="deleteSubscriberByList",
        status_code=200)
async def delete_subscribers(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Delete and erase the subscribers ``?id=1&id=2``, in one transaction."""
    ids = parse_ids(request.query_params.getall("id", []))
    if not ids:
        raise APIError(400, INVALID_IDS.format("ids"))
    return await _run(request, runtime, partial(
        handlers_bulk.delete_subscribers, tuple(ids), now(), scope=_scope(request)))
