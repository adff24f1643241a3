"""``DELETE /api/subscribers/:id/bounces``: delete a subscriber's bounce records.

A small decider over the subscriber's stream tracks only what this command needs (is the
subscriber live, does it have bounces since the last deletion), so deleting nothing records
nothing. The answer is ``{"data": true}`` either way, as listmonk's; it is sent once the
``bounces`` read model no longer holds the rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import psycopg
from litestar import Request, Response, delete
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.base import Event
from events.bounces import BounceRecorded, BouncesDeleted
from events.subscribers import SubscriberCreated, SubscriberDeleted
from services.auth.guard import require_auth
from services.command_api.context import command_context
from services.command_api.decider import Decider, decide_on_stream
from services.command_api.executor import Decision, execute
from services.command_api.respond import answer
from services.command_api.subscribers.decider import stream_id
from services.command_api.subscribers.handling import PROJECTIONS, now
from services.http.params import path_id
from services.runtime import Runtime


class Bounces(msgspec.Struct, frozen=True, kw_only=True):
    """What deleting bounces depends on: a live subscriber and its bounces not yet deleted."""

    subscriber_id: int = 0
    live: bool = False
    open_bounces: int = 0


class DeleteBounces(msgspec.Struct, frozen=True, kw_only=True):
    subscriber_id: int
    at: datetime


def decide(state: Bounces, command: DeleteBounces) -> list[Event]:
    if not state.live or not state.open_bounces:
        return []
    return [BouncesDeleted(subscriber_id=command.subscriber_id, at=command.at)]


def evolve(state: Bounces, event: Event) -> Bounces:
    if isinstance(event, SubscriberCreated):
        return Bounces(subscriber_id=event.subscriber_id, live=True)
    if isinstance(event, SubscriberDeleted):
        return Bounces(subscriber_id=event.subscriber_id)
    if isinstance(event, BounceRecorded):
        return msgspec.structs.replace(state, open_bounces=state.open_bounces + 1)
    if isinstance(event, BouncesDeleted):
        return msgspec.structs.replace(state, open_bounces=0)
    return state


bounces_decider: Decider[Bounces, DeleteBounces] = Decider(
    initial=Bounces(), decide=decide, evolve=evolve)


@delete("/api/subscribers/{subscriber_id:str}/bounces", guards=[require_auth],
        operation_id="deleteSubscriberBouncesById", status_code=200)
async def delete_subscriber_bounces(
    request: Request[Any, Any, Any], runtime: NamedDependency[Runtime],
    subscriber_id: FromPath[str],
) -> Response[bytes]:
    target = path_id(subscriber_id)
    command = DeleteBounces(subscriber_id=target, at=now())
    ctx = await command_context(request)

    async def decide_delete(conn: psycopg.AsyncConnection[Any]) -> Decision:
        append = await decide_on_stream(conn, stream_id(target), bounces_decider, command)
        return Decision([append], {"subscriber_id": target})

    outcome = await execute(runtime.pool, ctx, decide_delete)
    return await answer(runtime, ctx, outcome, PROJECTIONS)
