"""Tracking events: links registered for click tracking, campaign views and link clicks.

``link.registered`` (stream ``link-<link uuid>``, category ``link``): a URL of a campaign
became a tracked link. The link's uuid is derived from the URL (``uuid5(NAMESPACE_URL, url)``),
so every process that compiles the same URL gets the same uuid, and the stream holds at most
one event: a second registration of the URL conflicts on version 1 and is dropped. ``link_id``
comes from ``eventlog.link_id_seq`` (listmonk's integer ``links.id``).

``tracking.campaign_viewed`` and ``tracking.link_clicked`` (category ``tracking``, one stream
``tracking-<batch uuid>`` per batch the recorder appends, so concurrent recorders never
conflict): ``count`` hits of the same key (campaign, subscriber or none, link) seen by one
recorder: the first hit of a dedupe window alone, later hits of the window summed into one
event when the window closes (docs/tracking.md). ``subscriber_id`` is None when
``privacy.individual_tracking`` is off or the subscriber is unknown. No personal data: ids,
counts and times only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache

from events.base import Event


class LinkRegistered(Event, tag="link.registered", kw_only=True, frozen=True):
    """A URL became a tracked link (listmonk's ``links`` row)."""

    CATEGORY = "link"
    link_id: int
    uuid: str
    url: str
    at: datetime


class CampaignViewed(Event, tag="tracking.campaign_viewed", kw_only=True, frozen=True):
    """``count`` loads of a campaign's view pixel, the last at ``at``."""

    CATEGORY = "tracking"
    campaign_id: int
    subscriber_id: int | None = None
    count: int = 1
    at: datetime


class LinkClicked(Event, tag="tracking.link_clicked", kw_only=True, frozen=True):
    """``count`` clicks of a campaign's tracked link, the last at ``at``."""

    CATEGORY = "tracking"
    campaign_id: int
    link_id: int
    subscriber_id: int | None = None
    count: int = 1
    at: datetime


TrackingEvent = LinkRegistered | CampaignViewed | LinkClicked


def link_stream(link_uuid: str) -> str:
    return f"link-{link_uuid}"


@lru_cache(maxsize=4096)
def link_uuid_for(url: str) -> str:
    """A URL's link uuid: the same in every process, without asking anybody."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, url))
