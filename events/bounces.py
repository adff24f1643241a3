"""Bounce events of a subscriber (stream ``subscriber-<id>``, category ``subscriber``).

Bounces belong to the subscriber's stream because the bounce rules (blocklist after N hard
bounces...) are decided per subscriber, over its own history. ``meta`` (what the mail provider
reported, which may quote the address) is personal data: it is an ``events.crypto`` token sealed
with the subscriber's key and ``field_aad(subscriber_id, "meta")``, so an erasure shreds it too.

``subscriber.bounce_recorded`` is appended by bounce processing (``services/command_api/bounces``:
the webhooks, the mailbox scanner), with ``bounce_id`` from ``eventlog.bounce_id_seq`` like
listmonk's serial ``bounces.id``. ``subscriber.bounces_deleted`` (every bounce so far) is appended
by ``DELETE /api/subscribers/:id/bounces`` and ``DELETE /api/bounces?all=true``;
``subscriber.bounces_removed`` (some bounces, by id) by ``DELETE /api/bounces?id=..`` and
``DELETE /api/bounces/:id``. ``subscriber.bounce_action_applied`` says why the subscriber events
that follow it in the same command (blocklisted, unsubscribed, deleted) happened: the bounce
rules (``bounce.actions``) or ``PUT /api/bounces/blocklist``. See docs/bounces.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from events.base import Event

BounceType = Literal["soft", "hard", "complaint"]
BOUNCE_TYPES: tuple[BounceType, ...] = ("soft", "hard", "complaint")


class BounceRecorded(Event, tag="subscriber.bounce_recorded", kw_only=True, frozen=True):
    """A bounce of a message to the subscriber (``campaign_id`` when it came from a campaign).

    ``kind`` is listmonk's bounce ``type`` (the name ``type`` is the event tag's field).
    """

    CATEGORY = "subscriber"
    subscriber_id: int
    bounce_id: int
    campaign_id: int | None = None
    kind: BounceType
    source: str
    meta: str
    at: datetime


class BouncesDeleted(Event, tag="subscriber.bounces_deleted", kw_only=True, frozen=True):
    """Every bounce recorded so far for the subscriber was deleted."""

    CATEGORY = "subscriber"
    subscriber_id: int
    at: datetime


class BouncesRemoved(Event, tag="subscriber.bounces_removed", kw_only=True, frozen=True):
    """The subscriber's bounces ``bounce_ids`` were deleted (the others stay)."""

    CATEGORY = "subscriber"
    subscriber_id: int
    bounce_ids: list[int]
    at: datetime


BounceAction = Literal["blocklist", "unsubscribe", "delete"]
BounceActionRule = Literal["bounce_actions", "blocklist_bounced"]


class BounceActionApplied(Event, tag="subscriber.bounce_action_applied", kw_only=True,
                          frozen=True):
    """Why the subscriber events that follow in the same command happened: bounces.

    ``rule`` ``bounce_actions``: ``count`` bounces of ``kind`` (the last one ``bounce_id``)
    reached the ``threshold`` of the ``bounce.actions`` setting, whose ``action`` follows.
    ``rule`` ``blocklist_bounced``: ``PUT /api/bounces/blocklist`` blocklisted every subscriber
    with bounces (``count``: this one's bounces then). ``reason`` says the same in words (no
    personal data).
    """

    CATEGORY = "subscriber"
    subscriber_id: int
    action: BounceAction
    rule: BounceActionRule
    reason: str
    bounce_id: int | None = None
    kind: BounceType | None = None
    count: int = 0
    threshold: int = 0
    at: datetime


BounceEvent = BounceRecorded | BouncesDeleted | BouncesRemoved | BounceActionApplied
