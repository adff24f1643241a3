"""The decider of ``DELETE /api/subscribers/:id/bounces``, over the subscriber's stream.

It tracks only what the command needs (is the subscriber live, does it have bounces since the
last deletion), so deleting nothing records nothing.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.bounces import BounceRecorded, BouncesDeleted
from events.subscribers import SubscriberCreated, SubscriberDeleted
from services.command_api.decider import Decider


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
