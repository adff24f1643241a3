"""The bounce decider: pure ``decide`` and ``evolve`` of the bounce commands over one
``subscriber-<id>`` stream (docs/bounces.md).

Its state is the subscriber as ``subscriber_decider`` folds it (live or not, status,
subscriptions) and the subscriber's open bounces (recorded, not deleted since) by id and kind:
everything the bounce rules depend on. The commands:

- ``RecordBounce``: listmonk's ``record-bounce``. With ``num`` the subscriber's open bounces of
  the kind plus this one and ``count``/``action`` the kind's ``bounce.actions``: the bounce is
  recorded unless the subscriber is blocklisted or ``num`` exceeds ``count``; once ``num``
  reaches ``count``, ``blocklist`` sets the status to blocklisted (subscriptions kept, as
  listmonk), ``unsubscribe`` unsubscribes every subscription (both only when not blocklisted
  already) and ``delete`` deletes the subscriber (the handler erases it). An action that changes
  something is preceded by ``subscriber.bounce_action_applied``, so the log says why.
- ``DeleteBounces``: all of the subscriber's bounces (``bounce_ids`` None) or those of
  ``bounce_ids`` that are its own and open; deleting nothing records nothing.
- ``BlocklistBounced``: ``PUT /api/bounces/blocklist`` for one subscriber with bounces: blocklisted
  and every subscription unsubscribed (listmonk's ``blocklist-bounced-subscribers``).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.bounces import (
    BounceAction,
    BounceActionApplied,
    BounceRecorded,
    BouncesDeleted,
    BouncesRemoved,
    BounceType,
)
from events.subscribers import SubscriberStatusChanged, SubscriptionStatus
from services.command_api.decider import Decider
from services.command_api.subscribers.commands import BlocklistSubscriber, DeleteSubscriber
from services.command_api.subscribers.decider import (
    Absent,
    Active,
    SubscriberState,
    subscriber_decider,
    subscription_changes,
)

ACTIONS = ("none", "blocklist", "unsubscribe", "delete")


class Bounces(msgspec.Struct, frozen=True, kw_only=True):
    """The subscriber (``subscriber_decider``'s state) and its open bounces (id -> kind)."""

    subscriber: SubscriberState = msgspec.field(default_factory=Absent)
    open: dict[int, BounceType] = msgspec.field(default_factory=dict)

    @property
    def live(self) -> bool:
        return isinstance(self.subscriber, Active)

    def count(self, kind: BounceType) -> int:
        """How many open bounces of ``kind`` the subscriber has."""
        return sum(1 for k in self.open.values() if k == kind)


class DeleteBounces(msgspec.Struct, frozen=True, kw_only=True):
    """Delete the subscriber's bounces: all of them, or those of ``bounce_ids``."""

    subscriber_id: int
    at: datetime
    bounce_ids: tuple[int, ...] | None = None


class RecordBounce(msgspec.Struct, frozen=True, kw_only=True):
    """Record a bounce (``meta`` sealed already, ``bounce_id`` taken from the sequence) and
    apply the kind's ``bounce.actions`` rule: ``count`` bounces trigger ``action``."""

    subscriber_id: int
    bounce_id: int
    campaign_id: int | None
    kind: BounceType
    source: str
    meta: str
    at: datetime
    count: int
    action: str


class BlocklistBounced(msgspec.Struct, frozen=True, kw_only=True):
    """Blocklist the subscriber (and unsubscribe it from every list) if it has bounces."""

    subscriber_id: int
    at: datetime


BounceCommand = DeleteBounces | RecordBounce | BlocklistBounced


def decide(state: Bounces, command: BounceCommand) -> list[Event]:
    subscriber = state.subscriber
    if not isinstance(subscriber, Active):
        return []
    if isinstance(command, RecordBounce):
        return _record(state, subscriber, command)
    if isinstance(command, BlocklistBounced):
        return _blocklist_bounced(state, subscriber, command)
    return _delete(state, command)


def _delete(state: Bounces, c: DeleteBounces) -> list[Event]:
    if c.bounce_ids is None:
        return [BouncesDeleted(subscriber_id=c.subscriber_id, at=c.at)] if state.open else []
    ids = sorted(set(c.bounce_ids) & set(state.open))
    return [BouncesRemoved(subscriber_id=c.subscriber_id, bounce_ids=ids, at=c.at)] if ids else []


def _record(state: Bounces, s: Active, c: RecordBounce) -> list[Event]:
    num = state.count(c.kind) + 1
    blocklisted = s.status == "blocklisted"
    events: list[Event] = []
    if not blocklisted and num <= c.count:
        events.append(BounceRecorded(
            subscriber_id=s.subscriber_id, bounce_id=c.bounce_id, campaign_id=c.campaign_id,
            kind=c.kind, source=c.source, meta=c.meta, at=c.at))
    if num < c.count or c.action not in ("blocklist", "unsubscribe", "delete"):
        return events
    consequences = _consequences(s, c.action, c.at)
    if not consequences:
        return events
    action: BounceAction = ("blocklist" if c.action == "blocklist"
                            else "unsubscribe" if c.action == "unsubscribe" else "delete")
    cause = BounceActionApplied(
        subscriber_id=s.subscriber_id, action=action, rule="bounce_actions",
        reason=(f"{num} {c.kind} bounce(s) reached the bounce.actions threshold of {c.count}"
                f" for {c.kind} bounces: {action}"),
        bounce_id=c.bounce_id if events else None, kind=c.kind, count=num, threshold=c.count,
        at=c.at)
    return [*events, cause, *consequences]


def _consequences(s: Active, action: str, at: datetime) -> list[Event]:
    """The subscriber events of a bounce action (none when it changes nothing)."""
    if action == "delete":
        return subscriber_decider.decide(s, DeleteSubscriber(subscriber_id=s.subscriber_id,
                                                             at=at))
    if s.status == "blocklisted":
        return []
    if action == "blocklist":
        return [SubscriberStatusChanged(subscriber_id=s.subscriber_id, status="blocklisted",
                                        previous_status=s.status, at=at)]
    unsubscribed: SubscriptionStatus = "unsubscribed"
    return subscription_changes(s.subscriber_id, s.subscriptions,
                                dict.fromkeys(s.subscriptions, unsubscribed), at)


def _blocklist_bounced(state: Bounces, s: Active, c: BlocklistBounced) -> list[Event]:
    if not state.open:
        return []
    consequences = subscriber_decider.decide(s, BlocklistSubscriber(
        subscriber_id=s.subscriber_id, at=c.at))
    if not consequences:
        return []
    return [BounceActionApplied(
        subscriber_id=s.subscriber_id, action="blocklist", rule="blocklist_bounced",
        reason=(f"blocklisted with every bounced subscriber (PUT /api/bounces/blocklist);"
                f" {len(state.open)} bounce(s) recorded"),
        count=len(state.open), at=c.at), *consequences]


def evolve(state: Bounces, event: Event) -> Bounces:
    subscriber = subscriber_decider.evolve(state.subscriber, event)
    if isinstance(event, BounceRecorded):
        return Bounces(subscriber=subscriber, open={**state.open, event.bounce_id: event.kind})
    if isinstance(event, BouncesDeleted):
        return Bounces(subscriber=subscriber)
    if isinstance(event, BouncesRemoved):
        removed = set(event.bounce_ids)
        return Bounces(subscriber=subscriber,
                       open={k: v for k, v in state.open.items() if k not in removed})
    if subscriber is state.subscriber:
        return state
    if not isinstance(subscriber, Active):  # deleted: its bounces went with it
        return Bounces(subscriber=subscriber)
    return Bounces(subscriber=subscriber, open=state.open)


bounces_decider: Decider[Bounces, BounceCommand] = Decider(
    initial=Bounces(), decide=decide, evolve=evolve)
