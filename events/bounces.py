"""Bounce events of a subscriber (stream ``subscriber-<id>``, category ``subscriber``).

Bounces belong to the subscriber's stream because the bounce rules (blocklist after N hard
bounces...) are decided per subscriber, over its own history. ``meta`` (what the mail provider
reported, which may quote the address) is personal data: it is an ``events.crypto`` token sealed
with the subscriber's key and ``field_aad(subscriber_id, "meta")``, so an erasure shreds it too.

``subscriber.bounce_recorded`` is the shape the bounce processing is expected to append (with
``bounce_id`` from a sequence, like listmonk's serial ``bounces.id``); the ``bounces`` read model
(projections/bounces.py) already serves it. ``subscriber.bounces_deleted`` is appended by
``DELETE /api/subscribers/:id/bounces``.
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


BounceEvent = BounceRecorded | BouncesDeleted
