"""Events of the ``subscriber`` category (subscribers and their list subscriptions).

Stream ``subscriber-<id>``. Personal data (``email``, ``name``, ``attribs``) is never stored in
clear: those fields hold ``events.crypto`` tokens sealed with the subscriber's data key and the
aad ``field_aad(subscriber_id, field)``. Erasing a subscriber destroys the key, so the tokens in
the log and on NATS can no longer be read (see docs/crypto-shredding.md).

Subscription events carry the statuses they move from and to, so a projection keeping counters
(the lists' ``subscriber_count`` / ``subscriber_statuses``) never needs the previous state.
``at`` is when the command was accepted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

SubscriberStatus = Literal["enabled", "disabled", "blocklisted"]
SubscriptionStatus = Literal["unconfirmed", "confirmed", "unsubscribed"]

SUBSCRIBER_STATUSES: tuple[SubscriberStatus, ...] = ("enabled", "disabled", "blocklisted")
SUBSCRIPTION_STATUSES: tuple[SubscriptionStatus, ...] = (
    "unconfirmed", "confirmed", "unsubscribed")

# The fields of ``subscriber.created`` / ``subscriber.updated`` that hold personal data.
PERSONAL_FIELDS = ("email", "name", "attribs")


class SubscriberCreated(Event, tag="subscriber.created", kw_only=True, frozen=True):
    """A subscriber was created with its id (``eventlog.subscriber_id_seq``) and uuid.

    ``email``, ``name`` and ``attribs`` are tokens (a string, a string and an object sealed).
    """

    CATEGORY = "subscriber"
    subscriber_id: int
    uuid: str
    email: str
    name: str
    attribs: str
    status: SubscriberStatus
    at: datetime


class SubscriberUpdated(Event, tag="subscriber.updated", kw_only=True, frozen=True):
    """The subscriber's whole new profile (tokens, as in ``subscriber.created``) and status."""

    CATEGORY = "subscriber"
    subscriber_id: int
    email: str
    name: str
    attribs: str
    status: SubscriberStatus
    at: datetime


class SubscriberStatusChanged(Event, tag="subscriber.status_changed", kw_only=True, frozen=True):
    """Only the subscriber's status changed (e.g. it was blocklisted)."""

    CATEGORY = "subscriber"
    subscriber_id: int
    status: SubscriberStatus
    previous_status: SubscriberStatus
    at: datetime


class SubscribedToLists(Event, tag="subscriber.subscribed", kw_only=True, frozen=True):
    """New subscriptions to ``list_ids``, all with ``status`` (created and updated at ``at``)."""

    CATEGORY = "subscriber"
    subscriber_id: int
    list_ids: list[int]
    status: SubscriptionStatus
    at: datetime


class SubscriptionStatusChanged(
    Event, tag="subscriber.subscription_status_changed", kw_only=True, frozen=True
):
    """Existing subscriptions to ``list_ids`` went from ``previous_status`` to ``status``."""

    CATEGORY = "subscriber"
    subscriber_id: int
    list_ids: list[int]
    status: SubscriptionStatus
    previous_status: SubscriptionStatus
    at: datetime


class RemovedFromLists(Event, tag="subscriber.removed_from_lists", kw_only=True, frozen=True):
    """Subscriptions to ``list_ids`` (all of them in ``status``) were deleted."""

    CATEGORY = "subscriber"
    subscriber_id: int
    list_ids: list[int]
    status: SubscriptionStatus
    at: datetime


class OptinRequested(Event, tag="subscriber.optin_requested", kw_only=True, frozen=True):
    """An opt-in confirmation e-mail is due for the unconfirmed double opt-in ``list_ids``.

    ``explicit``: asked for by ``POST /api/subscribers/:id/optin``, sent even when
    ``app.send_optin_confirmation`` is off (as listmonk does); otherwise a side effect of a
    subscription, sent only when that setting is on.
    """

    CATEGORY = "subscriber"
    subscriber_id: int
    list_ids: list[int]
    explicit: bool = False
    at: datetime


class SubscriberDeleted(Event, tag="subscriber.deleted", kw_only=True, frozen=True):
    """The subscriber was deleted and erased: its data key was destroyed in the same
    transaction. Always preceded (same append) by the removal of its subscriptions."""

    CATEGORY = "subscriber"
    subscriber_id: int
    at: datetime


SubscriberEvent = (
    SubscriberCreated
    | SubscriberUpdated
    | SubscriberStatusChanged
    | SubscribedToLists
    | SubscriptionStatusChanged
    | RemovedFromLists
    | OptinRequested
    | SubscriberDeleted
)
