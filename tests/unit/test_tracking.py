"""Tracking without I/O: the recorder's dedupe buffer, TrackLink URL discovery, and the
statements the tracking and campaigns projections make of tracking events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import msgspec
from psycopg import sql

from events.base import Event
from events.bounces import BounceRecorded
from events.campaigns import CampaignDeleted
from events.registry import category_of, encode_data, schema_version_of
from events.store import Position, RecordedEvent
from events.subscribers import SubscriberDeleted
from events.tracking import CampaignViewed, LinkClicked, LinkRegistered, link_uuid_for
from projections.campaigns import CampaignsProjection
from projections.tracking import TrackingProjection, hour_of
from services.sender.templating.funcs_listmonk import campaign_funcs, track_link_urls
from services.tracking.buffer import HitBuffer, HitKey

T0 = datetime(2024, 3, 1, 9, 41, 5, tzinfo=UTC)
KEY = HitKey("click", "c-uuid", "s-uuid", 3)


def test_the_first_hit_is_due_at_once_and_repeats_wait_for_the_window_to_close() -> None:
    buffer = HitBuffer(window_seconds=60)
    for n in range(1000):
        buffer.hit(KEY, now=float(n) / 100, at=T0 + timedelta(milliseconds=n))
    first = buffer.drain(now=10.0)
    assert [(d.key, d.count) for d in first] == [(KEY, 1)]
    assert buffer.drain(now=59.0) == []  # the window is still open
    repeats = buffer.drain(now=61.0)
    assert [(d.count, d.at) for d in repeats] == [(999, T0 + timedelta(milliseconds=999))]
    assert buffer.drain(now=62.0) == [] and not buffer.windows


def test_keys_are_counted_apart_and_a_final_drain_releases_open_windows() -> None:
    buffer = HitBuffer(window_seconds=60)
    other = HitKey("view", "c-uuid", None)
    for key in (KEY, other, KEY, other, other):
        buffer.hit(key, now=1.0, at=T0)
    assert sorted(d.count for d in buffer.drain(now=2.0, final=True)) == [2, 3]


def test_a_failed_append_puts_its_counts_back() -> None:
    buffer = HitBuffer()
    buffer.hit(KEY, now=0.0, at=T0)
    taken = buffer.drain(now=0.0)
    buffer.restore(taken)
    buffer.hit(KEY, now=100.0, at=T0)  # a new window: due again, added to the restored one
    assert [d.count for d in buffer.drain(now=100.0)] == [2]


def test_only_literal_track_link_urls_are_registered() -> None:
    urls = track_link_urls(
        '<a href="https://x.org/a?b=1&amp;c=2@TrackLink">x</a>'
        '{{ if .Subscriber.Attribs.vip }}{{ TrackLink "https://x.org/vip" . }}{{ end }}'
        '{{ TrackLink (print "https://x.org/u/" .Subscriber.ID) . }}',
        '{{ template "content" . }}<a href="{{ TrackLink "https://x.org/foot" }}">f</a>')
    assert sorted(urls) == ["https://x.org/a?b=1&c=2", "https://x.org/foot", "https://x.org/vip"]


def test_track_link_leaves_an_unregistered_url_untracked() -> None:
    registered = {"https://x.org/a": link_uuid_for("https://x.org/a")}
    funcs = campaign_funcs(root_url="http://r", link_uuid=registered.get,
                           individual_tracking=True)
    msg = {"Campaign": {"UUID": "c"}, "Subscriber": {"UUID": "s"}}
    track = funcs["TrackLink"]
    assert track("https://x.org/a", msg) == f"http://r/link/{registered['https://x.org/a']}/c/s"
    assert track("https://x.org/other", msg) == "https://x.org/other"


def recorded(event: Event, gp: int = 7, stream: str = "tracking-x", version: int = 1
             ) -> RecordedEvent:
    return RecordedEvent(
        position=Position(100, gp), event_id=uuid.uuid4(), stream_id=stream,
        category=category_of(event), version=version, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0)


PROJECTION = TrackingProjection()
TABLES = {name: sql.Identifier("readmodel", name) for name in PROJECTION.tables}


def params(event: Event) -> list[object]:
    return [p for _, p in PROJECTION.apply(recorded(event), TABLES)]


def test_a_view_adds_a_row_and_its_hours_counter() -> None:
    row, counter = params(CampaignViewed(campaign_id=4, subscriber_id=9, count=3, at=T0))
    hour = datetime(2024, 3, 1, 9, tzinfo=UTC)
    assert row == (7, 4, 9, 3, T0)
    assert counter == {"c": 4, "h": hour, "n": 3, "l": 0, "s": 9}
    assert hour_of(T0) == hour


def test_a_click_counts_for_the_campaign_and_for_its_link() -> None:
    row, campaign, link = params(LinkClicked(campaign_id=4, link_id=2, subscriber_id=None,
                                             count=1, at=T0))
    assert row == (7, 4, 2, None, 1, T0)
    assert (campaign["l"], link["l"], link["s"]) == (-1, 2, None)  # type: ignore[index]


def test_links_subscribers_and_campaigns() -> None:
    (link,) = params(LinkRegistered(link_id=5, uuid=link_uuid_for("https://x"), url="https://x",
                                    at=T0))
    assert link == (5, link_uuid_for("https://x"), "https://x", T0)
    assert params(SubscriberDeleted(subscriber_id=9, at=T0)) == [(9,), (9,), (9,)]
    assert params(CampaignDeleted(campaign_id=4, at=T0)) == [(4,)] * 5


def test_the_campaign_counters_move_with_hits_and_bounces() -> None:
    campaigns = CampaignsProjection()
    tables = {n: sql.Identifier("readmodel", n) for n in campaigns.tables}
    view = campaigns.apply(recorded(CampaignViewed(campaign_id=4, count=3, at=T0)), tables)
    bounce = campaigns.apply(recorded(BounceRecorded(
        subscriber_id=9, bounce_id=1, campaign_id=4, kind="hard", source="api", meta="m",
        at=T0), stream="subscriber-9"), tables)
    assert [p for _, p in view + bounce] == [(3, 4), (4,)]
    removal = recorded(SubscriberDeleted(subscriber_id=9, at=T0), stream="subscriber-9",
                       version=5)
    before = {str(removal.event_id): {4: 2, 6: 1}}
    assert [p for _, p in campaigns.apply_prepared(removal, tables, before)] == [(2, 4), (1, 6)]
