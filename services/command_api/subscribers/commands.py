"""Commands on a subscriber. Ids, uuid, time and sealed personal data arrive on the command.

The personal fields (``email``, ``name``, ``attribs``) travel as ``events.crypto`` tokens: the
route validates and normalises the clear values, seals them with the subscriber's key, and the
decider only passes tokens on (it never sees personal data in clear).
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.subscribers import SubscriberStatus, SubscriptionStatus


class CreateSubscriber(msgspec.Struct, frozen=True, kw_only=True):
    """Create a subscriber, subscribed to ``list_ids`` (lists known to exist).

    Subscriptions start ``unconfirmed`` (``confirmed`` with ``preconfirm``), or ``unsubscribed``
    for a blocklisted subscriber. Unconfirmed subscriptions to the ``double_optin`` lists ask for
    an opt-in e-mail unless ``preconfirm``.
    """

    subscriber_id: int
    uuid: str
    email: str
    name: str
    attribs: str
    status: SubscriberStatus = "enabled"
    list_ids: tuple[int, ...] = ()
    double_optin: frozenset[int] = frozenset()
    preconfirm: bool = False
    at: datetime


class UpdateSubscriber(msgspec.Struct, frozen=True, kw_only=True):
    """Replace a subscriber's profile (PUT/PATCH). ``None`` keeps the current value.

    With ``list_ids`` the subscriptions become exactly those lists: others are removed, new ones
    start ``unconfirmed`` (``confirmed`` with ``preconfirm``), existing ``confirmed`` and
    ``unsubscribed`` ones keep their status, ``unconfirmed`` ones take the new one. ``None``
    leaves the subscriptions alone. A blocklisted subscriber ends with every subscription
    ``unsubscribed``. Current subscriptions to the lists of ``keep`` (those the caller's list
    role may not manage) are left as they are even when ``list_ids`` omits them.
    """

    subscriber_id: int
    email: str | None = None
    name: str | None = None
    attribs: str | None = None
    status: SubscriberStatus | None = None
    list_ids: tuple[int, ...] | None = None
    keep: frozenset[int] = frozenset()
    double_optin: frozenset[int] = frozenset()
    preconfirm: bool = False
    at: datetime


class BlocklistSubscriber(msgspec.Struct, frozen=True, kw_only=True):
    """Blocklist a subscriber and unsubscribe it from every list."""

    subscriber_id: int
    at: datetime


class AddSubscriptions(msgspec.Struct, frozen=True, kw_only=True):
    """Subscribe to ``list_ids``: new subscriptions get ``status`` (default ``unconfirmed``),
    existing ones take ``status`` when it is given and keep theirs otherwise."""

    subscriber_id: int
    list_ids: tuple[int, ...]
    status: SubscriptionStatus | None = None
    at: datetime


class ResubscribeLists(msgspec.Struct, frozen=True, kw_only=True):
    """Subscribe to ``list_ids`` again, as a public sign-up of a known e-mail does: new and
    ``unconfirmed``/``unsubscribed`` subscriptions become ``unconfirmed``, ``confirmed`` ones
    stay (a blocklisted subscriber gets ``unsubscribed`` ones). Then an opt-in e-mail is asked
    for every unconfirmed subscription to the ``double_optin`` lists, old ones included."""

    subscriber_id: int
    list_ids: tuple[int, ...]
    double_optin: frozenset[int] = frozenset()
    at: datetime


class RemoveSubscriptions(msgspec.Struct, frozen=True, kw_only=True):
    """Delete the subscriptions to ``list_ids``."""

    subscriber_id: int
    list_ids: tuple[int, ...]
    at: datetime


class UnsubscribeLists(msgspec.Struct, frozen=True, kw_only=True):
    """Mark the existing subscriptions to ``list_ids`` ``unsubscribed``."""

    subscriber_id: int
    list_ids: tuple[int, ...]
    at: datetime


class RequestOptin(msgspec.Struct, frozen=True, kw_only=True):
    """Ask for an opt-in e-mail covering the unconfirmed subscriptions to ``double_optin`` lists."""

    subscriber_id: int
    double_optin: frozenset[int] = frozenset()
    at: datetime


class DeleteSubscriber(msgspec.Struct, frozen=True, kw_only=True):
    """Delete (and erase) a subscriber; its subscriptions go with it."""

    subscriber_id: int
    at: datetime


SubscriberCommand = (
    CreateSubscriber
    | UpdateSubscriber
    | BlocklistSubscriber
    | AddSubscriptions
    | ResubscribeLists
    | RemoveSubscriptions
    | UnsubscribeLists
    | RequestOptin
    | DeleteSubscriber
)
