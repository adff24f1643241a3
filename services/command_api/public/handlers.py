"""Command handlers of the public (no credentials) subscriber commands: the sign-up, and the
subscriber pages' opt-in confirmation, unsubscribe, blocklist and preferences.

As the other subscriber handlers, each takes its input and an ``EventStore``; the routes
(``services/command_api/public/``) answer with a page or JSON. The page handlers refuse a
subscriber that does not exist (any more) with a 404 and say in ``changed`` whether anything was
recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.base import Event
from events.store import StreamAppend
from events.subscribers import OptinRequested
from kernel.errors import InvalidInput
from services.command_api.campaigns.targets import campaign_list_ids
from services.command_api.store import EventStore
from services.command_api.subscribers.commands import (
    AddSubscriptions,
    BlocklistSubscriber,
    CreateSubscriber,
    ResubscribeLists,
    SubscriberCommand,
    UnsubscribeLists,
    UpdateSubscriber,
)
from services.command_api.subscribers.decider import Absent, stream_id, subscriber_decider
from services.command_api.subscribers.handlers import (
    SUBSCRIBER_ID_SEQUENCE,
    load_active,
    stage,
)
from services.command_api.subscribers.index import (
    claim_email,
    lists_by_id,
    lists_by_uuid,
    subscriber_with_email,
)
from services.command_api.subscribers.sealing import seal
from services.http.public_views import INVALID_UUID

NO_LISTS = "No valid lists selected to subscribe."


@dataclass(frozen=True)
class SignUp:
    """A validated sign-up request: e-mail and name normalised, list uuids lower-cased."""

    email: str
    name: str
    list_uuids: tuple[str, ...]


async def sign_up_subscriber(signup: SignUp, uuid: str, at: datetime, store: EventStore
                             ) -> dict[str, Any]:
    """Create the subscriber (with ``uuid``), or subscribe the one with this e-mail again
    (confirmed subscriptions stay confirmed, its name is not changed). A private list refuses
    the whole request, as does naming no existing list. ``has_optin``: an opt-in e-mail was
    asked for."""
    found = await lists_by_uuid(store, signup.list_uuids)
    if any(item.list_type == "private" for item in found.values()):
        raise InvalidInput(INVALID_UUID)
    chosen = tuple(found[u].list_id for u in signup.list_uuids if u in found)
    if not chosen:
        raise InvalidInput(NO_LISTS)
    existing = await subscriber_with_email(store, signup.email)
    events: list[Event]
    if existing is None:
        subscriber_id = await store.next_id(SUBSCRIBER_ID_SEQUENCE)
        await claim_email(store, subscriber_id, signup.email)
        key = await store.data_key(subscriber_id, create=True)
        assert key is not None  # a fresh id was never erased
        events = subscriber_decider.decide(Absent(), CreateSubscriber(
            subscriber_id=subscriber_id, uuid=uuid,
            email=seal(key, subscriber_id, "email", signup.email),
            name=seal(key, subscriber_id, "name", signup.name),
            attribs=seal(key, subscriber_id, "attribs", {}), list_ids=chosen,
            double_optin=frozenset(item.list_id for item in found.values()
                                   if item.optin == "double"),
            at=at))
        store.append(StreamAppend(stream_id(subscriber_id), 0, events))
    else:
        state, version = await load_active(store, existing)
        subscriber_id = existing
        lists = await lists_by_id(store, {*state.subscriptions, *chosen})
        events = stage(store, state, version, ResubscribeLists(
            subscriber_id=subscriber_id, list_ids=chosen,
            double_optin=frozenset(i for i, item in lists.items() if item.optin == "double"),
            at=at))
    has_optin = any(isinstance(event, OptinRequested) for event in events)
    return {"subscriber_id": subscriber_id, "has_optin": has_optin}


def _changed(subscriber_id: int, events: list[Event]) -> dict[str, Any]:
    return {"subscriber_id": subscriber_id, "changed": bool(events)}


async def _named_lists(store: EventStore, uuids: Iterable[str]) -> set[int]:
    """The ids of the existing lists among those named by uuid."""
    return {found.list_id for found in (await lists_by_uuid(store, uuids)).values()}


async def confirm_subscriptions(subscriber_id: int, list_uuids: frozenset[str], at: datetime,
                                store: EventStore) -> dict[str, Any]:
    """Confirm the subscriber's unconfirmed subscriptions to existing lists (only those of the
    lists named in ``list_uuids``, when any are); ``changed`` tells whether there were any."""
    state, version = await load_active(store, subscriber_id)
    lists = await lists_by_id(store, state.subscriptions)
    named = await _named_lists(store, list_uuids) if list_uuids else set()
    confirmed = tuple(i for i, status in sorted(state.subscriptions.items())
                      if status == "unconfirmed" and i in lists
                      and (not list_uuids or i in named))
    return _changed(subscriber_id, stage(store, state, version, AddSubscriptions(
        subscriber_id=subscriber_id, list_ids=confirmed, status="confirmed", at=at)))


async def unsubscribe_from_campaign(subscriber_id: int, campaign_uuid: str, at: datetime,
                                    store: EventStore) -> dict[str, Any]:
    """Unsubscribe the subscriber from the lists the campaign targets now (none for an unknown
    campaign): the one-click link of a campaign e-mail."""
    state, version = await load_active(store, subscriber_id)
    lists = tuple(await campaign_list_ids(store, campaign_uuid))
    return _changed(subscriber_id, stage(store, state, version, UnsubscribeLists(
        subscriber_id=subscriber_id, list_ids=lists, at=at)))


async def blocklist_subscriber(subscriber_id: int, at: datetime, store: EventStore
                               ) -> dict[str, Any]:
    """Blocklist the subscriber (every subscription becomes ``unsubscribed``)."""
    state, version = await load_active(store, subscriber_id)
    return _changed(subscriber_id, stage(store, state, version, BlocklistSubscriber(
        subscriber_id=subscriber_id, at=at)))


@dataclass(frozen=True)
class Preferences:
    """What the preferences page saves: the (valid) name and the uuids of the lists ticked."""

    subscriber_id: int
    name: str
    kept_list_uuids: frozenset[str]
    at: datetime


async def save_preferences(preferences: Preferences, store: EventStore) -> dict[str, Any]:
    """Rename the subscriber (unless it was erased meanwhile) and unsubscribe it from its
    non-private lists that were not ticked."""
    subscriber_id, at = preferences.subscriber_id, preferences.at
    state, version = await load_active(store, subscriber_id)
    key = await store.data_key(subscriber_id)
    lists = await lists_by_id(store, state.subscriptions)
    kept = await _named_lists(store, preferences.kept_list_uuids)
    dropped = tuple(i for i in sorted(state.subscriptions) if i in lists
                    and lists[i].list_type != "private" and i not in kept)
    commands: list[SubscriberCommand] = [UnsubscribeLists(
        subscriber_id=subscriber_id, list_ids=dropped, at=at)]
    if key is not None:
        commands.insert(0, UpdateSubscriber(
            subscriber_id=subscriber_id,
            name=seal(key, subscriber_id, "name", preferences.name), at=at))
    return _changed(subscriber_id, stage(store, state, version, *commands))
