"""The subscriber decider: pure ``decide`` and ``evolve`` over one ``subscriber-<id>`` stream.

Every command that touches subscriptions computes the subscriptions it wants to end with and
``subscription_changes`` turns the difference into events, so each event states exactly which
statuses moved (what the lists' counters need).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

from events.base import Event
from events.subscribers import (
    SUBSCRIPTION_STATUSES,
    OptinRequested,
    RemovedFromLists,
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatus,
    SubscriberStatusChanged,
    SubscriberUpdated,
    SubscriptionStatus,
    SubscriptionStatusChanged,
)
from kernel.errors import Conflict, NotFound
from services.command_api.decider import Decider
from services.command_api.subscribers.commands import (
    AddSubscriptions,
    BlocklistSubscriber,
    CreateSubscriber,
    DeleteSubscriber,
    RemoveSubscriptions,
    RequestOptin,
    ResubscribeLists,
    SubscriberCommand,
    UnsubscribeLists,
    UpdateSubscriber,
)

SUBSCRIBER_NOT_FOUND = "Subscriber not found"

Subscriptions = Mapping[int, SubscriptionStatus]


class Absent(msgspec.Struct, frozen=True):
    """No such subscriber has ever been created."""


class Active(msgspec.Struct, frozen=True, kw_only=True):
    """A live subscriber: its sealed profile, status and subscriptions (list id -> status)."""

    subscriber_id: int
    uuid: str
    email: str
    name: str
    attribs: str
    status: SubscriberStatus
    subscriptions: dict[int, SubscriptionStatus]
    updated_at: datetime


class Deleted(msgspec.Struct, frozen=True):
    """The subscriber was deleted and erased; its id is never reused."""


SubscriberState = Absent | Active | Deleted


def stream_id(subscriber_id: int) -> str:
    return f"subscriber-{subscriber_id}"


def decide(state: SubscriberState, command: SubscriberCommand) -> list[Event]:
    """The events a command produces on a subscriber in ``state``, or a ``DomainError``."""
    if isinstance(command, CreateSubscriber):
        if not isinstance(state, Absent):
            raise Conflict(f"subscriber {command.subscriber_id} already exists")
        return _create(command)
    if not isinstance(state, Active):
        raise NotFound(SUBSCRIBER_NOT_FOUND)
    if isinstance(command, UpdateSubscriber):
        return _update(state, command)
    if isinstance(command, BlocklistSubscriber):
        return _blocklist(state, command)
    if isinstance(command, AddSubscriptions):
        return _add(state, command)
    if isinstance(command, ResubscribeLists):
        return _resubscribe(state, command)
    if isinstance(command, RemoveSubscriptions):
        target = {k: v for k, v in state.subscriptions.items() if k not in command.list_ids}
        return subscription_changes(state.subscriber_id, state.subscriptions, target, command.at)
    if isinstance(command, UnsubscribeLists):
        target = {k: ("unsubscribed" if k in command.list_ids else v)
                  for k, v in state.subscriptions.items()}
        return subscription_changes(state.subscriber_id, state.subscriptions, target, command.at)
    if isinstance(command, RequestOptin):
        return _optin(state.subscriber_id, state.subscriptions, command.double_optin,
                      command.at, explicit=True)
    return _delete(state, command)


def _create(c: CreateSubscriber) -> list[Event]:
    status: SubscriptionStatus = (
        "unsubscribed" if c.status == "blocklisted"
        else "confirmed" if c.preconfirm else "unconfirmed")
    target = {list_id: status for list_id in c.list_ids}
    events: list[Event] = [SubscriberCreated(
        subscriber_id=c.subscriber_id, uuid=c.uuid, email=c.email, name=c.name,
        attribs=c.attribs, status=c.status, at=c.at)]
    events += subscription_changes(c.subscriber_id, {}, target, c.at)
    if not c.preconfirm:
        events += _optin(c.subscriber_id, target, c.double_optin, c.at)
    return events


def _update(state: Active, c: UpdateSubscriber) -> list[Event]:
    status = c.status or state.status
    fresh: SubscriptionStatus = "confirmed" if c.preconfirm else "unconfirmed"
    target: dict[int, SubscriptionStatus]
    if c.list_ids is None:
        target = dict(state.subscriptions)
    else:
        target = {}
        for list_id in c.list_ids:
            current = state.subscriptions.get(list_id)
            target[list_id] = current if current in ("confirmed", "unsubscribed") else fresh
        for list_id in c.keep:  # lists the caller may not manage stay as they are
            kept = state.subscriptions.get(list_id)
            if kept is not None and list_id not in target:
                target[list_id] = kept
    if status == "blocklisted":
        target = {list_id: "unsubscribed" for list_id in target}
    events: list[Event] = [SubscriberUpdated(
        subscriber_id=state.subscriber_id, email=c.email or state.email,
        name=c.name or state.name, attribs=c.attribs or state.attribs, status=status,
        at=c.at)]
    events += subscription_changes(state.subscriber_id, state.subscriptions, target, c.at)
    if c.list_ids is not None and not c.preconfirm:
        wanted = {k: v for k, v in target.items() if k in c.list_ids}
        events += _optin(state.subscriber_id, wanted, c.double_optin, c.at)
    return events


def _blocklist(state: Active, c: BlocklistSubscriber) -> list[Event]:
    events: list[Event] = []
    if state.status != "blocklisted":
        events.append(SubscriberStatusChanged(
            subscriber_id=state.subscriber_id, status="blocklisted",
            previous_status=state.status, at=c.at))
    unsubscribed: SubscriptionStatus = "unsubscribed"
    target = dict.fromkeys(state.subscriptions, unsubscribed)
    return events + subscription_changes(state.subscriber_id, state.subscriptions, target,
                                         c.at)


def _add(state: Active, c: AddSubscriptions) -> list[Event]:
    target = dict(state.subscriptions)
    for list_id in c.list_ids:
        if list_id not in target:
            target[list_id] = c.status or "unconfirmed"
        elif c.status:
            target[list_id] = c.status
    return subscription_changes(state.subscriber_id, state.subscriptions, target, c.at)


def _resubscribe(state: Active, c: ResubscribeLists) -> list[Event]:
    target = dict(state.subscriptions)
    for list_id in c.list_ids:
        if state.status == "blocklisted":
            target[list_id] = "unsubscribed"
        elif target.get(list_id) != "confirmed":
            target[list_id] = "unconfirmed"
    events = subscription_changes(state.subscriber_id, state.subscriptions, target, c.at)
    return events + _optin(state.subscriber_id, target, c.double_optin, c.at)


def _optin(subscriber_id: int, subscriptions: Subscriptions, double_optin: Iterable[int],
           at: datetime, *, explicit: bool = False) -> list[Event]:
    lists = sorted(k for k in set(double_optin) if subscriptions.get(k) == "unconfirmed")
    return [OptinRequested(subscriber_id=subscriber_id, list_ids=lists, explicit=explicit,
                           at=at)] if lists else []


def _delete(state: Active, c: DeleteSubscriber) -> list[Event]:
    removed = subscription_changes(state.subscriber_id, state.subscriptions, {}, c.at)
    return [*removed, SubscriberDeleted(subscriber_id=state.subscriber_id, at=c.at)]


def subscription_changes(subscriber_id: int, current: Subscriptions, target: Subscriptions,
                         at: datetime) -> list[Event]:
    """Events taking ``current`` subscriptions to ``target``: removals, additions, then status
    changes, one event per status (pair), list ids ascending."""
    removed: dict[SubscriptionStatus, list[int]] = {}
    added: dict[SubscriptionStatus, list[int]] = {}
    changed: dict[tuple[SubscriptionStatus, SubscriptionStatus], list[int]] = {}
    for list_id in sorted(set(current) | set(target)):
        before, after = current.get(list_id), target.get(list_id)
        if after is None and before is not None:
            removed.setdefault(before, []).append(list_id)
        elif before is None and after is not None:
            added.setdefault(after, []).append(list_id)
        elif before is not None and after is not None and before != after:
            changed.setdefault((before, after), []).append(list_id)
    order = SUBSCRIPTION_STATUSES.index
    events: list[Event] = []
    for status in sorted(removed, key=order):
        events.append(RemovedFromLists(subscriber_id=subscriber_id, list_ids=removed[status],
                                       status=status, at=at))
    for status in sorted(added, key=order):
        events.append(SubscribedToLists(subscriber_id=subscriber_id, list_ids=added[status],
                                        status=status, at=at))
    for before, after in sorted(changed, key=lambda pair: (order(pair[0]), order(pair[1]))):
        events.append(SubscriptionStatusChanged(
            subscriber_id=subscriber_id, list_ids=changed[(before, after)], status=after,
            previous_status=before, at=at))
    return events


def evolve(state: SubscriberState, event: Event) -> SubscriberState:
    """The subscriber's state after ``event``."""
    if isinstance(event, SubscriberCreated):
        return Active(subscriber_id=event.subscriber_id, uuid=event.uuid, email=event.email,
                      name=event.name, attribs=event.attribs, status=event.status,
                      subscriptions={}, updated_at=event.at)
    if isinstance(event, SubscriberDeleted):
        return Deleted()
    if not isinstance(state, Active):
        return state
    if isinstance(event, SubscriberUpdated):
        return msgspec.structs.replace(state, email=event.email, name=event.name,
                                       attribs=event.attribs, status=event.status,
                                       updated_at=event.at)
    if isinstance(event, SubscriberStatusChanged):
        return msgspec.structs.replace(state, status=event.status, updated_at=event.at)
    if isinstance(event, SubscribedToLists | SubscriptionStatusChanged):
        subscriptions = dict(state.subscriptions)
        subscriptions.update(dict.fromkeys(event.list_ids, event.status))
        return msgspec.structs.replace(state, subscriptions=subscriptions)
    if isinstance(event, RemovedFromLists):
        subscriptions = {k: v for k, v in state.subscriptions.items()
                         if k not in event.list_ids}
        return msgspec.structs.replace(state, subscriptions=subscriptions)
    return state


subscriber_decider: Decider[SubscriberState, SubscriberCommand] = Decider(
    initial=Absent(), decide=decide, evolve=evolve
)
