"""Command handlers over many subscribers: blocklist, add, remove or unsubscribe list
subscriptions, delete (and erase).

Each decides one command per live subscriber of the ids given and stages them all in the one
command (the bulk routes run one per request, the by-query routes one per batch of ids).
Unknown or already deleted ids are skipped, as listmonk ignores them; the result names the
subscribers whose streams changed. Deleting erases in the same command: keys destroyed, e-mail
index rows released, the other copies of their personal data removed
(``EventStore.erase_subscribers``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from events.subscribers import SubscriptionStatus
from services.command_api.store import EventStore
from services.command_api.subscribers.commands import (
    AddSubscriptions,
    BlocklistSubscriber,
    DeleteSubscriber,
    RemoveSubscriptions,
    SubscriberCommand,
    UnsubscribeLists,
)
from services.command_api.subscribers.decider import Active, stream_id, subscriber_decider
from services.command_api.subscribers.handlers import stage
from services.command_api.subscribers.index import existing_lists, live_lists
from services.command_api.subscribers.scope import EVERYTHING, ListScope

Live = list[tuple[Active, int]]


async def live_subscribers(store: EventStore, subscriber_ids: Iterable[int],
                           scope: ListScope = EVERYTHING) -> Live:
    """The live subscribers among ``subscriber_ids`` (in the order given, without repeats),
    with their stream versions, loaded at once; 403 if one of them is out of ``scope``
    (listmonk's ``hasSubPerm``: unknown ids are ignored, one forbidden id refuses all)."""
    ids = list(dict.fromkeys(subscriber_ids))
    loaded = await store.load_many([stream_id(i) for i in ids], subscriber_decider)
    live = [(state, version) for state, version in (loaded[stream_id(i)] for i in ids)
            if isinstance(state, Active)]
    scope.check(state for state, _ in live)
    return live


def _stage_each(store: EventStore, live: Live, command_for: Callable[[Active], SubscriberCommand]
                ) -> dict[str, Any]:
    changed = [state.subscriber_id for state, version in live
               if stage(store, state, version, command_for(state))]
    return {"subscriber_ids": changed}


async def _existing_lists(store: EventStore, list_ids: Sequence[int]) -> tuple[int, ...]:
    return existing_lists(list_ids, await live_lists(store, list_ids)) if list_ids else ()


async def blocklist_subscribers(subscriber_ids: Iterable[int], at: datetime,
                                store: EventStore, *,
                                scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """Blocklist each subscriber; every subscription of it becomes ``unsubscribed``."""
    live = await live_subscribers(store, subscriber_ids, scope)
    return _stage_each(store, live, lambda s: BlocklistSubscriber(
        subscriber_id=s.subscriber_id, at=at))


async def add_subscriptions(subscriber_ids: Iterable[int], list_ids: Sequence[int],
                            status: SubscriptionStatus | None, at: datetime,
                            store: EventStore, *,
                            scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """Subscribe each subscriber to the lists of ``list_ids`` that exist: new subscriptions
    get ``status`` (default ``unconfirmed``), existing ones take it when it is given."""
    live = await live_subscribers(store, subscriber_ids, scope)
    lists = await _existing_lists(store, list_ids)
    return _stage_each(store, live, lambda s: AddSubscriptions(
        subscriber_id=s.subscriber_id, list_ids=lists, status=status, at=at))


async def add_new_subscriptions(subscriber_ids: Iterable[int], list_ids: Sequence[int],
                                status: SubscriptionStatus | None, at: datetime,
                                store: EventStore, *,
                                scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """As ``add_subscriptions``, but subscriptions a subscriber has already are left as they
    are (what listmonk's by-query variant does)."""
    live = await live_subscribers(store, subscriber_ids, scope)
    lists = await _existing_lists(store, list_ids)
    return _stage_each(store, live, lambda s: AddSubscriptions(
        subscriber_id=s.subscriber_id, list_ids=tuple(i for i in lists if i not in
                                                      s.subscriptions),
        status=status, at=at))


async def remove_subscriptions(subscriber_ids: Iterable[int], list_ids: Sequence[int],
                               at: datetime, store: EventStore, *,
                               scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """Delete each subscriber's subscriptions to ``list_ids``."""
    live = await live_subscribers(store, subscriber_ids, scope)
    return _stage_each(store, live, lambda s: RemoveSubscriptions(
        subscriber_id=s.subscriber_id, list_ids=tuple(list_ids), at=at))


async def unsubscribe_lists(subscriber_ids: Iterable[int], list_ids: Sequence[int],
                            at: datetime, store: EventStore, *,
                            scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """Mark each subscriber's subscriptions to ``list_ids`` ``unsubscribed``."""
    live = await live_subscribers(store, subscriber_ids, scope)
    return _stage_each(store, live, lambda s: UnsubscribeLists(
        subscriber_id=s.subscriber_id, list_ids=tuple(list_ids), at=at))


async def delete_subscribers(subscriber_ids: Iterable[int], at: datetime,
                             store: EventStore, *,
                             scope: ListScope = EVERYTHING) -> dict[str, Any]:
    """Delete and erase each subscriber, its subscriptions with it."""
    live = await live_subscribers(store, subscriber_ids, scope)
    if live:
        await store.erase_subscribers(state.subscriber_id for state, _ in live)
    return _stage_each(store, live, lambda s: DeleteSubscriber(
        subscriber_id=s.subscriber_id, at=at))
