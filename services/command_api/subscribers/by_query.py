"""Commands over the subscribers an expression selects: ``POST /api/subscribers/query/delete``,
``PUT /api/subscribers/query/blocklist`` and ``PUT /api/subscribers/query/lists``.

The body is listmonk's: ``query`` (a sandboxed SQL expression), ``search``, ``list_ids`` (and
``subscription_status``) to narrow the selection, ``all`` (delete/blocklist: ignore ``query`` and
``search``), and for ``query/lists`` ``action`` (add|remove|unsubscribe), ``target_list_ids`` and
``status``.

**Which subscribers.** The expression is evaluated once, in the query sandbox, against the read
model as it is when the command arrives (the command side never runs clients' SQL against the
log). Read-your-writes makes this what the caller expects: its previous writes were answered only
after the read model had them. Writes by others still in flight may be missed, as they would be by
a listmonk query racing them. Each selected subscriber is then re-loaded from its stream and
decided on by the handler of ``DELETE /api/subscribers?id=..`` (or of the bulk blocklist / list
commands, ``handlers_bulk.py``), so one deleted meanwhile is skipped. Deleting erases exactly as
``DELETE`` does (key shredded, e-mail index row and stored answers removed, in the same
transaction as ``subscriber.deleted``).

**Atomicity.** The selection is applied in transactions of ``BATCH_SIZE`` subscribers, not one:
a million-subscriber command in a single transaction would hold locks and a huge append for
minutes and bloat the log's WAL at once. Each batch is all-or-nothing; the command as a whole is
not: if it fails midway, earlier batches stay applied and the error is returned. Every operation
here is idempotent over the same selection (deleting, blocklisting, adding or removing
subscriptions again changes nothing more), so retrying the request finishes the work. With an
``Idempotency-Key`` the key is claimed once; a retry after a complete run gets the stored answer,
a retry after an interrupted run runs the (re-evaluated) selection again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import timedelta
from functools import partial
from typing import Any

from litestar import Request, Response, post, put
from litestar.di import NamedDependency

from events.crypto import master_key_from
from events.store import Position
from readmodels.sandbox import QueryRefused, sandboxed
from readmodels.subscriber_listing import (
    PREPARING_QUERY,
    SubscriberFilter,
    format_query,
    matching_ids,
    selection,
)
from services.auth.guard import current_user, require_auth
from services.auth.principal import Principal
from services.command_api.context import command_context
from services.command_api.executor import CommandContext, CommandOutcome, execute_handler
from services.command_api.respond import answer
from services.command_api.store import EventStore, Handler
from services.command_api.subscribers import handlers_bulk
from services.command_api.subscribers.fields import subscription_status
from services.command_api.subscribers.routing import PROJECTIONS, now
from services.http.binding import (
    bind_object,
    bool_field,
    int_list_field,
    string_field,
)
from services.http.errors import APIError
from services.runtime import Runtime

BATCH_SIZE = 1000
SELECTION_TIMEOUT = timedelta(seconds=30)
INVALID_FIELDS = "Invalid fields: {}"
NO_LISTS = "No lists given."
INVALID_ACTION = "Invalid action."
ACTIONS = ("add", "remove", "unsubscribe")
_FIELDS = ("query", "search", "list_ids", "target_list_ids", "action", "status",
           "subscription_status", "all")

# The command over one batch of the selected ids (a ``handlers_bulk`` handler bound to them).
ForBatch = Callable[[Sequence[int]], Handler]


async def _body(request: Request[Any, Any, Any]) -> dict[str, Any]:
    return bind_object(await request.body(), _FIELDS)


def _filter(data: dict[str, Any], user: Principal, *, everything: bool = False
            ) -> SubscriberFilter:
    """The selection; ``list_ids`` as listmonk's ``GetPermittedListIDs`` narrows them to the
    caller's lists (none left: its permitted lists, unless it has ``subscribers:get_all``)."""
    status = string_field(data, "subscription_status") or ""
    return SubscriberFilter(
        query="" if everything else format_query(string_field(data, "query")),
        search="" if everything else (string_field(data, "search") or "").strip(),
        list_ids=tuple(user.subscriber_list_filter(int_list_field(data, "list_ids") or ())),
        subscription_status=subscription_status(status) if status else "")


async def _select(runtime: Runtime, f: SubscriberFilter) -> list[int]:
    """The ids the filter selects now, from the read model, through the sandbox."""
    try:
        s = selection(f)
        async with runtime.read_pool.connection() as conn, \
                sandboxed(conn, statement_timeout=SELECTION_TIMEOUT):
            return await matching_ids(conn, s)
    except QueryRefused as error:
        raise APIError(400, PREPARING_QUERY.format(error.reason)) from None


async def _apply_in_batches(runtime: Runtime, ctx: CommandContext, ids: Sequence[int],
                            for_batch: ForBatch) -> tuple[Position | None, int]:
    """Run ``for_batch`` over ``ids``, one command (one transaction) per batch; the last
    position written and how many events were appended."""
    batch_ctx = dataclasses.replace(ctx, idempotency_key="", fingerprint="")
    master_key = master_key_from(runtime.settings.master_key)
    position: Position | None = None
    appended = 0
    for start in range(0, len(ids), BATCH_SIZE):
        outcome = await execute_handler(runtime.pool, batch_ctx,
                                        for_batch(ids[start:start + BATCH_SIZE]),
                                        master_key=master_key)
        position = outcome.position or position
        appended += outcome.appended
    return position, appended


async def _claim_only(store: EventStore) -> dict[str, Any]:
    """A command that changes nothing: runs to claim the request's Idempotency-Key."""
    return {}


async def _run(request: Request[Any, Any, Any], runtime: Runtime, f: SubscriberFilter,
               for_batch: ForBatch) -> Response[bytes]:
    ctx = await command_context(request)
    if ctx.idempotency_key:  # claim the key once; a completed retry gets the stored answer
        claimed = await execute_handler(runtime.pool, ctx, _claim_only)
        if claimed.stored_response is not None:
            return await answer(runtime, ctx, claimed, PROJECTIONS)
    ids = await _select(runtime, f)
    position, appended = await _apply_in_batches(runtime, ctx, ids, for_batch)
    outcome = CommandOutcome(position=position, result={}, appended=appended)
    return await answer(runtime, ctx, outcome, PROJECTIONS)


def _query_or_all(data: dict[str, Any], user: Principal) -> SubscriberFilter:
    """delete/blocklist: ``all`` selects everyone (in ``list_ids``); otherwise a query or a
    search is required; a query needs ``subscribers:sql_query``."""
    if bool_field(data, "all"):
        return _filter(data, user, everything=True)
    f = _filter(data, user)
    if not f.query and not f.search:
        raise APIError(400, INVALID_FIELDS.format("query"))
    user.require_sql_query(f.query)
    return f


@post("/api/subscribers/query/delete", guards=[require_auth],
      operation_id="deleteSubscriberByQuery", status_code=200)
async def delete_by_query(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Delete and erase the selected subscribers."""
    f = _query_or_all(await _body(request), current_user(request))
    at = now()
    return await _run(request, runtime, f, lambda batch: partial(
        handlers_bulk.delete_subscribers, batch, at))


async def _blocklist(request: Request[Any, Any, Any], runtime: Runtime) -> Response[bytes]:
    f = _query_or_all(await _body(request), current_user(request))
    at = now()
    return await _run(request, runtime, f, lambda batch: partial(
        handlers_bulk.blocklist_subscribers, batch, at))


@put("/api/subscribers/query/blocklist", guards=[require_auth],
     operation_id="blocklistSubscribersQuery", status_code=200)
async def blocklist_by_query(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """Blocklist the selected subscribers (every subscription of each becomes unsubscribed)."""
    return await _blocklist(request, runtime)


@post("/api/subscribers/query/blocklist", guards=[require_auth],
      operation_id="blocklistSubscribersQueryPost", status_code=200, include_in_schema=False)
async def blocklist_by_query_post(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """The same with POST, as listmonk's API documentation's example sends it."""
    return await _blocklist(request, runtime)


@put("/api/subscribers/query/lists", guards=[require_auth],
     operation_id="manageSubscriberListsByQuery", status_code=200)
async def manage_lists_by_query(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
) -> Response[bytes]:
    """``add`` the selected subscribers to ``target_list_ids`` (new subscriptions get ``status``,
    default unconfirmed; existing ones are left as they are, as listmonk's query variant does),
    ``remove`` those subscriptions, or ``unsubscribe`` them. No query or search selects
    everyone (in ``list_ids``), as in listmonk. Unknown target lists are ignored."""
    data = await _body(request)
    targets = int_list_field(data, "target_list_ids") or ()
    if not targets:
        raise APIError(400, NO_LISTS)
    action = string_field(data, "action") or ""
    if action not in ACTIONS:
        raise APIError(400, INVALID_ACTION)
    user = current_user(request)
    f = _filter(data, user)
    user.require_sql_query(f.query)
    targets = tuple(user.filter_lists("manage", targets))  # listmonk: no 403 when none is left
    at = now()
    if action == "remove":
        return await _run(request, runtime, f, lambda batch: partial(
            handlers_bulk.remove_subscriptions, batch, targets, at))
    if action == "unsubscribe":
        return await _run(request, runtime, f, lambda batch: partial(
            handlers_bulk.unsubscribe_lists, batch, targets, at))
    status_text = string_field(data, "status") or ""
    status = subscription_status(status_text) if status_text else None
    return await _run(request, runtime, f, lambda batch: partial(
        handlers_bulk.add_new_subscriptions, batch, targets, status, at))
