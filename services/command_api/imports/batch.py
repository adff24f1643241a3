"""The events of one batch of import rows (pure: no I/O; keys, ids and states arrive loaded).

listmonk's rules (its ``upsert-subscriber`` and ``upsert-blocklist-subscriber`` queries):

- subscribe, new e-mail: an ``enabled`` subscriber subscribed to the lists with the import's
  subscription status. No opt-in e-mail is requested (listmonk's importer sends none).
- subscribe, existing e-mail: name and attributes are replaced only with
  ``overwrite_userinfo``; the subscriber's status never changes. Lists it is not on are added
  with the import's status (``unsubscribed`` if it is blocklisted); its existing subscriptions
  to those lists take that status only with ``overwrite_subscription_status``.
- blocklist, new e-mail: a ``blocklisted`` subscriber on no list.
- blocklist, existing e-mail: blocklisted, every subscription ``unsubscribed``; name and
  attributes are kept.

A row repeating an e-mail seen earlier (in the file or the database) is applied to that
subscriber as it is by then, so a file behaves as its rows applied one after another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from events.base import Event
from events.store import StreamAppend
from events.subscribers import (
    SubscribedToLists,
    SubscriberCreated,
    SubscriberUpdated,
    SubscriptionStatus,
)
from services.command_api.imports.params import ImportOptions
from services.command_api.imports.parser import Row
from services.command_api.subscribers.commands import BlocklistSubscriber
from services.command_api.subscribers.decider import (
    Absent,
    Active,
    SubscriberState,
    evolve,
    stream_id,
    subscriber_decider,
    subscription_changes,
)
from services.command_api.subscribers.sealing import seal

ERASED = "skipping line {}: the subscriber with this e-mail was erased meanwhile"


class NewSubscriber(NamedTuple):
    """An e-mail not known before this batch: its fresh id and data key."""

    subscriber_id: int
    key: bytes


class Existing(NamedTuple):
    """An e-mail of a live subscriber: its state, stream version and key (None if erased)."""

    subscriber_id: int
    state: SubscriberState
    version: int
    key: bytes | None


Target = NewSubscriber | Existing


@dataclass
class _Stream:
    subscriber_id: int
    version: int
    key: bytes | None
    state: SubscriberState
    events: list[Event] = field(default_factory=list)
    pending: int = 0  # the last events not yet folded into ``state``


@dataclass(frozen=True)
class BatchPlan:
    """What a batch appends, how many rows it imported, and the rows it had to skip."""

    appends: list[StreamAppend]
    imported: int
    skipped: list[str]

    @property
    def event_count(self) -> int:
        return sum(len(a.events) for a in self.appends)


def plan_batch(
    rows: Sequence[Row], targets: Mapping[str, Target], options: ImportOptions, at: datetime,
    new_uuid: Callable[[], str],
) -> BatchPlan:
    """Events for ``rows`` given the subscriber each e-mail (hash) resolves to."""
    streams: dict[int, _Stream] = {}
    skipped: list[str] = []
    imported = 0
    for row in rows:
        stream = _stream_of(streams, targets[row.email_hash])
        if stream.pending:  # a repeated e-mail: bring the state up to date first
            state = stream.state
            for event in stream.events[-stream.pending:]:
                state = evolve(state, event)
            stream.state, stream.pending = state, 0
        state = stream.state
        events: list[Event]
        if isinstance(state, Absent) and stream.key is not None:
            events = _create(stream.subscriber_id, stream.key, row, options, at, new_uuid())
        elif isinstance(state, Active) and stream.key is not None:
            events = _existing(state, stream.key, row, options, at)
        else:
            skipped.append(ERASED.format(row.line))
            continue
        stream.events.extend(events)
        stream.pending = len(events)  # folded only if the e-mail comes again
        imported += 1
    appends = [StreamAppend(stream_id(s.subscriber_id), s.version, s.events)
               for s in streams.values() if s.events]
    return BatchPlan(appends, imported, skipped)


def _stream_of(streams: dict[int, _Stream], target: Target) -> _Stream:
    sid = target.subscriber_id
    if sid not in streams:
        if isinstance(target, NewSubscriber):
            streams[sid] = _Stream(sid, 0, target.key, Absent())
        else:
            streams[sid] = _Stream(sid, target.version, target.key, target.state)
    return streams[sid]


def _create(subscriber_id: int, key: bytes, row: Row, options: ImportOptions, at: datetime,
            uuid: str) -> list[Event]:
    blocklist = options.mode == "blocklist"
    events: list[Event] = [SubscriberCreated(
        subscriber_id=subscriber_id, uuid=uuid,
        email=seal(key, subscriber_id, "email", row.email),
        name=seal(key, subscriber_id, "name", row.name),
        attribs=seal(key, subscriber_id, "attribs", row.attribs or {}),
        status="blocklisted" if blocklist else "enabled", at=at)]
    if not blocklist and options.list_ids:  # what subscription_changes gives from no lists
        events.append(SubscribedToLists(
            subscriber_id=subscriber_id, list_ids=sorted(options.list_ids),
            status=options.subscription_status, at=at))
    return events


def _existing(state: Active, key: bytes, row: Row, options: ImportOptions,
              at: datetime) -> list[Event]:
    sid = state.subscriber_id
    if options.mode == "blocklist":
        return subscriber_decider.decide(state, BlocklistSubscriber(subscriber_id=sid, at=at))
    events: list[Event] = []
    if options.overwrite_userinfo:
        events.append(SubscriberUpdated(
            subscriber_id=sid, email=state.email, name=seal(key, sid, "name", row.name),
            attribs=seal(key, sid, "attribs", row.attribs or {}), status=state.status, at=at))
    status: SubscriptionStatus = (
        "unsubscribed" if state.status == "blocklisted" else options.subscription_status)
    target = dict(state.subscriptions)
    for list_id in options.list_ids:
        if list_id not in target or options.overwrite_subscription_status:
            target[list_id] = status
    return events + subscription_changes(sid, state.subscriptions, target, at)
