"""Command handlers of bounces: record one (and apply the bounce rules), delete some or all,
blocklist the bounced subscribers.

Each decides with the pure ``bounces_decider`` (``subscribers/bounce_decider.py``) over the
subscriber's stream and stages the events on it; see docs/bounces.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import structlog

from events.base import Event
from events.bounces import BounceRecorded, BounceType
from events.store import StreamAppend
from events.subscribers import SubscriberDeleted
from services.command_api.bounces.lookups import BounceLookups
from services.command_api.store import EventStore
from services.command_api.subscribers.bounce_decider import (
    BlocklistBounced,
    DeleteBounces,
    RecordBounce,
    bounces_decider,
)
from services.command_api.subscribers.decider import stream_id
from services.command_api.subscribers.index import subscriber_with_email
from services.command_api.subscribers.sealing import seal

log = structlog.get_logger(__name__)

BOUNCE_ID_SEQUENCE = "eventlog.bounce_id_seq"


@dataclass(frozen=True)
class BounceToRecord:
    """A bounce checked at the boundary (``intake.py``), with the rule of its kind."""

    kind: BounceType
    source: str
    at: datetime
    count: int
    action: str
    email: str = ""
    subscriber_uuid: str = ""
    campaign_uuid: str = ""
    meta: Any = None


def sealable_meta(meta: Any) -> dict[str, Any] | str:
    """What is sealed for ``meta``: an object as it is; any other JSON value (a provider's
    array, a string) as its JSON text, which the projection decodes (docs/bounces.md)."""
    if isinstance(meta, dict):
        return meta
    return msgspec.json.encode({} if meta is None else meta).decode()


async def record_bounce(bounce: BounceToRecord, store: EventStore, bounces: BounceLookups
                        ) -> dict[str, Any]:
    """Record the bounce on its subscriber's stream and apply the kind's rule; an unknown or
    deleted subscriber records nothing (``{"recorded": false}``), as listmonk ignores it."""
    subscriber_id = await _subscriber(bounce, store, bounces)
    if subscriber_id is None:
        log.info("bounce_subscriber_not_found", source=bounce.source,
                 by="uuid" if bounce.subscriber_uuid else "email")
        return {"recorded": False}
    stream = stream_id(subscriber_id)
    state, version = await store.load(stream, bounces_decider)
    key = await store.data_key(subscriber_id) if state.live else None
    if key is None:
        log.info("bounce_subscriber_not_found", source=bounce.source, deleted=True)
        return {"recorded": False}
    campaign_id = (await bounces.campaign_by_uuid(bounce.campaign_uuid)
                   if bounce.campaign_uuid else None)
    bounce_id = await store.next_id(BOUNCE_ID_SEQUENCE)
    events = bounces_decider.decide(state, RecordBounce(
        subscriber_id=subscriber_id, bounce_id=bounce_id, campaign_id=campaign_id,
        kind=bounce.kind, source=bounce.source,
        meta=seal(key, subscriber_id, "meta", sealable_meta(bounce.meta)), at=bounce.at,
        count=bounce.count, action=bounce.action))
    if any(isinstance(e, SubscriberDeleted) for e in events):
        await store.erase_subscribers([subscriber_id])
    store.append(StreamAppend(stream, version, events))
    return {"recorded": any(isinstance(e, BounceRecorded) for e in events),
            "subscriber_id": subscriber_id, "events": [e.event_type for e in events]}


async def _subscriber(bounce: BounceToRecord, store: EventStore, bounces: BounceLookups
                      ) -> int | None:
    if bounce.subscriber_uuid:
        return await bounces.subscriber_by_uuid(bounce.subscriber_uuid)
    if bounce.email:
        return await subscriber_with_email(store, bounce.email)
    return None


async def delete_bounces(bounce_ids: Mapping[int, Sequence[int]] | Iterable[int], at: datetime,
                         store: EventStore) -> dict[str, Any]:
    """Delete bounces: a mapping (subscriber id -> its bounce ids) deletes those bounces; a
    plain iterable of subscriber ids deletes all of each one's bounces. Bounces that are not
    (or no longer) the subscriber's are ignored, as ``DELETE ... WHERE id = ANY`` ignores them."""
    commands: dict[int, tuple[int, ...] | None]
    if isinstance(bounce_ids, Mapping):
        commands = {sid: tuple(ids) for sid, ids in bounce_ids.items()}
    else:
        commands = dict.fromkeys(bounce_ids)
    changed = await _decide_each(store, commands, lambda sid, ids: DeleteBounces(
        subscriber_id=sid, bounce_ids=ids, at=at))
    return {"subscriber_ids": changed}


async def blocklist_bounced(subscriber_ids: Iterable[int], at: datetime, store: EventStore
                            ) -> dict[str, Any]:
    """Blocklist each of the subscribers that has bounces and unsubscribe it from its lists."""
    changed = await _decide_each(store, dict.fromkeys(subscriber_ids), lambda sid, _: (
        BlocklistBounced(subscriber_id=sid, at=at)))
    return {"subscriber_ids": changed}


async def _decide_each(store: EventStore, commands: Mapping[int, Any], command_of: Any
                       ) -> list[int]:
    loaded = await store.load_many([stream_id(i) for i in commands], bounces_decider)
    changed: list[int] = []
    for sid, arg in commands.items():
        state, version = loaded[stream_id(sid)]
        events: list[Event] = bounces_decider.decide(state, command_of(sid, arg))
        if events:
            store.append(StreamAppend(stream_id(sid), version, events))
            changed.append(sid)
    return changed
