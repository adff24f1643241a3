"""Maintenance command handlers: each re-decides on the streams what the read model selected.

- ``delete_subscribers``: deletes and erases (crypto-shredding, ``EventStore.erase_subscribers``)
  those of the given subscribers that are still orphans (on no list) or still blocklisted on
  their own stream; one subscribed or unblocklisted since the selection is left alone.
- ``remove_unconfirmed``: removes each subscriber's selected subscriptions that are still
  ``unconfirmed`` on its stream (``subscriber.removed_from_lists``).
- ``prune_analytics``: appends ``tracking.pruned`` per kind on a stream of its own.

Each result's ``count`` is how many subscribers or subscriptions were removed (listmonk's
``RowsAffected``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from events.maintenance import PrunedKind, TrackingPruned
from events.store import NO_STREAM, StreamAppend
from readmodels.maintenance import SubscriberKind
from services.command_api.store import EventStore
from services.command_api.subscribers.commands import DeleteSubscriber, RemoveSubscriptions
from services.command_api.subscribers.decider import Active
from services.command_api.subscribers.handlers import stage
from services.command_api.subscribers.handlers_bulk import live_subscribers


def still_selected(state: Active, kind: SubscriberKind) -> bool:
    """Whether the subscriber's stream still makes it an orphan or blocklisted."""
    if kind == "orphan":
        return not state.subscriptions
    return state.status == "blocklisted"


async def delete_subscribers(kind: SubscriberKind, subscriber_ids: Iterable[int], at: datetime,
                             store: EventStore) -> dict[str, Any]:
    """Delete and erase the subscribers among ``subscriber_ids`` that are still ``kind``."""
    targets = [(s, v) for s, v in await live_subscribers(store, subscriber_ids)
               if still_selected(s, kind)]
    if targets:
        await store.erase_subscribers(s.subscriber_id for s, _ in targets)
    deleted = [s.subscriber_id for s, v in targets
               if stage(store, s, v, DeleteSubscriber(subscriber_id=s.subscriber_id, at=at))]
    return {"subscriber_ids": deleted, "count": len(deleted)}


async def remove_unconfirmed(selection: Mapping[int, Sequence[int]], at: datetime,
                             store: EventStore) -> dict[str, Any]:
    """Remove the subscriptions of ``selection`` (subscriber id -> list ids) that are still
    ``unconfirmed``."""
    changed: list[int] = []
    count = 0
    for state, version in await live_subscribers(store, selection):
        lists = tuple(i for i in selection[state.subscriber_id]
                      if state.subscriptions.get(i) == "unconfirmed")
        if lists and stage(store, state, version, RemoveSubscriptions(
                subscriber_id=state.subscriber_id, list_ids=lists, at=at)):
            changed.append(state.subscriber_id)
            count += len(lists)
    return {"subscriber_ids": changed, "count": count}


async def prune_analytics(kinds: Sequence[PrunedKind], before: datetime, at: datetime,
                          stream_id: str, store: EventStore) -> dict[str, Any]:
    """Delete the ``kinds`` analytics recorded before ``before`` (``tracking.pruned``)."""
    store.append(StreamAppend(stream_id, NO_STREAM, [
        TrackingPruned(kind=k, before=before, at=at) for k in kinds]))
    return {"kinds": list(kinds)}
