"""The catalogue of every event type, its codec and the upcaster registry.

Stored rows hold ``type``, ``schema_version`` and ``data`` (the event's fields without the tag).
Decoding applies the registered upcasters (``dict -> dict``) from the stored schema version up to
the current one, then converts into the tagged union.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from events.base import Event
from events.bounces import BounceActionApplied, BounceRecorded, BouncesDeleted, BouncesRemoved
from events.campaigns import (
    CampaignArchiveChanged,
    CampaignCancelled,
    CampaignCreated,
    CampaignDeleted,
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignStarted,
    CampaignUnscheduled,
    CampaignUpdated,
)
from events.deliveries import (
    ChunkClaimed,
    ChunkCompleted,
    DeliveriesRetryRequested,
    DeliveryProgress,
)
from events.imports import ImportFailed, ImportFinished, ImportStarted, ImportStopped
from events.lists import ListCreated, ListDeleted, ListUpdated
from events.maintenance import TrackingPruned
from events.media import MediaDeleted, MediaUploaded
from events.message_deliveries import (
    MessageDelivered,
    MessageFailed,
    MessageSkipped,
    NotificationQueued,
    OptinQueued,
)
from events.messages import CampaignTestQueued, TxMessageQueued
from events.roles import RoleCreated, RoleDeleted, RoleUpdated
from events.settings import SettingsChanged
from events.subscribers import (
    OptinRequested,
    RemovedFromLists,
    SubscribedToLists,
    SubscriberCreated,
    SubscriberDeleted,
    SubscriberStatusChanged,
    SubscriberUpdated,
    SubscriptionStatusChanged,
)
from events.templates import (
    TemplateCreated,
    TemplateDefaultSet,
    TemplateDefaultUnset,
    TemplateDeleted,
    TemplateUpdated,
)
from events.tracking import CampaignViewed, LinkClicked, LinkRegistered
from events.users import (
    UserCreated,
    UserDeleted,
    UserLoggedIn,
    UserPasswordChanged,
    UserTwofaDisabled,
    UserTwofaEnabled,
    UserUpdated,
)

EVENT_TYPES: tuple[type[Event], ...] = (
    ListCreated,
    ListUpdated,
    ListDeleted,
    UserCreated,
    UserUpdated,
    UserPasswordChanged,
    UserDeleted,
    UserLoggedIn,
    UserTwofaEnabled,
    UserTwofaDisabled,
    RoleCreated,
    RoleUpdated,
    RoleDeleted,
    SubscriberCreated,
    SubscriberUpdated,
    SubscriberStatusChanged,
    SubscribedToLists,
    SubscriptionStatusChanged,
    RemovedFromLists,
    OptinRequested,
    SubscriberDeleted,
    BounceRecorded,
    BouncesDeleted,
    BouncesRemoved,
    BounceActionApplied,
    TemplateCreated,
    TemplateUpdated,
    TemplateDefaultSet,
    TemplateDefaultUnset,
    TemplateDeleted,
    CampaignCreated,
    CampaignUpdated,
    CampaignScheduled,
    CampaignUnscheduled,
    CampaignStarted,
    CampaignResumed,
    CampaignPaused,
    CampaignCancelled,
    CampaignFinished,
    CampaignArchiveChanged,
    CampaignDeleted,
    ImportStarted,
    ImportFinished,
    ImportStopped,
    ImportFailed,
    TxMessageQueued,
    CampaignTestQueued,
    SettingsChanged,
    ChunkClaimed,
    DeliveryProgress,
    ChunkCompleted,
    DeliveriesRetryRequested,
    OptinQueued,
    NotificationQueued,
    MessageDelivered,
    MessageFailed,
    MessageSkipped,
    LinkRegistered,
    CampaignViewed,
    LinkClicked,
    TrackingPruned,
    MediaUploaded,
    MediaDeleted,
)

AnyEvent = (
    ListCreated
    | ListUpdated
    | ListDeleted
    | UserCreated
    | UserUpdated
    | UserPasswordChanged
    | UserDeleted
    | UserLoggedIn
    | UserTwofaEnabled
    | UserTwofaDisabled
    | RoleCreated
    | RoleUpdated
    | RoleDeleted
    | SubscriberCreated
    | SubscriberUpdated
    | SubscriberStatusChanged
    | SubscribedToLists
    | SubscriptionStatusChanged
    | RemovedFromLists
    | OptinRequested
    | SubscriberDeleted
    | BounceRecorded
    | BouncesDeleted
    | BouncesRemoved
    | BounceActionApplied
    | TemplateCreated
    | TemplateUpdated
    | TemplateDefaultSet
    | TemplateDefaultUnset
    | TemplateDeleted
    | CampaignCreated
    | CampaignUpdated
    | CampaignScheduled
    | CampaignUnscheduled
    | CampaignStarted
    | CampaignResumed
    | CampaignPaused
    | CampaignCancelled
    | CampaignFinished
    | CampaignArchiveChanged
    | CampaignDeleted
    | ImportStarted
    | ImportFinished
    | ImportStopped
    | ImportFailed
    | TxMessageQueued
    | CampaignTestQueued
    | SettingsChanged
    | ChunkClaimed
    | DeliveryProgress
    | ChunkCompleted
    | DeliveriesRetryRequested
    | OptinQueued
    | NotificationQueued
    | MessageDelivered
    | MessageFailed
    | MessageSkipped
    | LinkRegistered
    | CampaignViewed
    | LinkClicked
    | TrackingPruned
    | MediaUploaded
    | MediaDeleted
)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_BY_TAG: dict[str, type[Event]] = {}
for _cls in EVENT_TYPES:
    _tag = _cls.__struct_config__.tag
    assert isinstance(_tag, str)
    if _tag in _BY_TAG:
        raise RuntimeError(f"duplicate event tag {_tag}")
    _BY_TAG[_tag] = _cls

# (type, from_schema_version) -> upcaster producing schema_version + 1
_UPCASTERS: dict[tuple[str, int], Upcaster] = {}


class UnknownEventType(Exception):
    """The log holds a type this code does not know (newer writer, or a removed type)."""


def register_upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register ``fn(data) -> data`` turning ``from_version`` data into ``from_version + 1``."""

    def wrap(fn: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in _UPCASTERS:
            raise RuntimeError(f"upcaster already registered for {key}")
        _UPCASTERS[key] = fn
        return fn

    return wrap


def event_class(event_type: str) -> type[Event]:
    try:
        return _BY_TAG[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def category_of(event: Event) -> str:
    return type(event).CATEGORY


def schema_version_of(event: Event) -> int:
    return type(event).SCHEMA_VERSION


def encode_data(event: Event) -> bytes:
    """JSON of the event's fields, without the ``type`` tag (kept in its own column)."""
    fields = msgspec.to_builtins(event)
    fields.pop("type", None)
    return msgspec.json.encode(fields)


def upcast(event_type: str, schema_version: int, data: dict[str, Any]) -> dict[str, Any]:
    target = event_class(event_type).SCHEMA_VERSION
    version = schema_version
    while version < target:
        fn = _UPCASTERS.get((event_type, version))
        if fn is None:
            raise RuntimeError(f"no upcaster for {event_type} v{version}")
        data = fn(data)
        version += 1
    return data


def decode_event(event_type: str, schema_version: int, data: dict[str, Any] | bytes) -> Event:
    """Rebuild a typed event from its stored form, upcasting old schema versions."""
    fields = msgspec.json.decode(data) if isinstance(data, bytes | bytearray | memoryview) else data
    fields = upcast(event_type, schema_version, dict(fields))
    cls = event_class(event_type)
    fields.pop("type", None)
    return msgspec.convert(fields, cls, strict=False)
