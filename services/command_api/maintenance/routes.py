"""Maintenance command routes (listmonk's ``cmd/maintenance.go``, permission
``settings:maintain``):

- ``DELETE /api/maintenance/subscribers/{orphan|blocklisted}`` -> ``{"data": {"count": n}}``;
- ``DELETE /api/maintenance/subscriptions/unconfirmed?before_date=<RFC 3339>`` -> the same;
- ``DELETE /api/maintenance/analytics/{views|clicks|all}?before_date=<RFC 3339>`` ->
  ``{"data": true}`` (listmonk answers ``true`` here, not a count).

An unknown type or a ``before_date`` that is not an RFC 3339 date-time is listmonk's 400
"Invalid data". The subscriber selections come from the read model and are applied in
transactions of ``BATCH_SIZE`` subscribers, as the by-query commands are (docs/maintenance.md).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any, cast

from litestar import Request, Response, delete
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.crypto import master_key_from
from events.maintenance import PrunedKind, parse_rfc3339, prune_stream
from events.store import Position
from readmodels.maintenance import (
    SubscriberKind,
    subscribers_to_delete,
    unconfirmed_subscriptions,
)
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.executor import CommandContext, CommandOutcome, execute_handler
from services.command_api.maintenance import handlers
from services.command_api.respond import answer
from services.command_api.store import EventStore, Handler
from services.command_api.subscribers.routing import PROJECTIONS, now
from services.http.binding import form_values
from services.http.errors import APIError
from services.runtime import Runtime

BATCH_SIZE = 1000
INVALID_DATA = "Invalid data"  # listmonk's globals.messages.invalidData
ANALYTICS_KINDS: dict[str, tuple[PrunedKind, ...]] = {
    "views": ("views",), "clicks": ("clicks",), "all": ("views", "clicks")}

def parse_date(text: str) -> datetime:
    """An RFC 3339 date-time as listmonk reads it; 400 "Invalid data" otherwise."""
    parsed = parse_rfc3339(text)
    if parsed is None:
        raise APIError(400, INVALID_DATA)
    return parsed


async def before_date(request: Request[Any, Any, Any]) -> datetime:
    """``before_date`` like echo's ``FormValue``: form body, else the query string."""
    values = await form_values(request, ("before_date",), lambda v: isinstance(v, str))
    return parse_date(values.get("before_date", ""))


async def _claim_only(store: EventStore) -> dict[str, Any]:
    """A command that changes nothing: runs to claim the request's Idempotency-Key."""
    return {}


async def _counted(request: Request[Any, Any, Any], runtime: Runtime,
                   select: Callable[[], Any], for_batch: Callable[[Any], Handler],
                   batches: Callable[[Any], Sequence[Any]]) -> Response[bytes]:
    """Select from the read model, apply ``for_batch`` to each batch in its own transaction,
    and answer ``{"data": {"count": <sum of the batches' counts>}}``."""
    ctx = await command_context(request)
    if ctx.idempotency_key:  # claim the key once; a completed retry gets the stored answer
        claimed = await execute_handler(runtime.pool, ctx, _claim_only)
        if claimed.stored_response is not None:
            return await answer(runtime, ctx, claimed, PROJECTIONS)
    batch_ctx = dataclasses.replace(ctx, idempotency_key="", fingerprint="")
    master_key = master_key_from(runtime.settings.master_key)
    position: Position | None = None
    appended = count = 0
    for batch in batches(await select()):
        outcome = await execute_handler(runtime.pool, batch_ctx, for_batch(batch),
                                        master_key=master_key)
        position = outcome.position or position
        appended += outcome.appended
        count += int(outcome.result.get("count", 0))

    async def read() -> dict[str, int]:
        return {"count": count}

    done = CommandOutcome(position=position, result={"count": count}, appended=appended)
    return await answer(runtime, ctx, done, PROJECTIONS, read=read)


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i:i + BATCH_SIZE] for i in range(0, len(items), BATCH_SIZE)]


@delete("/api/maintenance/subscribers/{kind:str}", guards=[require_auth],
        operation_id="deleteMaintenanceSubscribers", status_code=200)
async def gc_subscribers(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                             kind: FromPath[str]) -> Response[bytes]:
    """Delete (and erase) every orphan subscriber (on no list) or every blocklisted one."""
    if kind not in ("orphan", "blocklisted"):
        raise APIError(400, INVALID_DATA)
    which = cast(SubscriberKind, kind)
    at = now()
    return await _counted(
        request, runtime, partial(subscribers_to_delete, runtime.read_pool, which),
        lambda batch: partial(handlers.delete_subscribers, which, batch, at), _chunks)


@delete("/api/maintenance/subscriptions/unconfirmed", guards=[require_auth],
        operation_id="deleteMaintenanceUnconfirmedSubscriptions", status_code=200)
async def gc_unconfirmed(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime]
                             ) -> Response[bytes]:
    """Delete the unconfirmed subscriptions to double opt-in lists created before
    ``before_date``."""
    before = await before_date(request)
    at = now()

    def batches(selection: dict[int, tuple[int, ...]]) -> list[dict[int, tuple[int, ...]]]:
        ids = list(selection)
        return [{i: selection[i] for i in chunk} for chunk in _chunks(ids)]

    return await _counted(
        request, runtime, partial(unconfirmed_subscriptions, runtime.read_pool, before),
        lambda batch: partial(handlers.remove_unconfirmed, batch, at), batches)


@delete("/api/maintenance/analytics/{kind:str}", guards=[require_auth],
        operation_id="deleteMaintenanceAnalytics", status_code=200)
async def gc_analytics(request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
                           kind: FromPath[str]) -> Response[bytes]:
    """Delete the views, clicks or both recorded before ``before_date``."""
    before = await before_date(request)
    kinds = ANALYTICS_KINDS.get(kind)
    if kinds is None:
        raise APIError(400, INVALID_DATA)
    ctx: CommandContext = await command_context(request)
    outcome = await execute_handler(
        runtime.pool, ctx, partial(handlers.prune_analytics, kinds, before, now(),
                                   prune_stream(str(uuid.uuid4()))))
    return await answer(runtime, ctx, outcome, ("tracking",))
