"""The campaigns projection turns each campaign event into the statements that apply it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
from psycopg import sql

from events.base import Event
from events.campaigns import (
    CampaignArchiveChanged,
    CampaignContent,
    CampaignCreated,
    CampaignDeleted,
    CampaignList,
    CampaignPaused,
    CampaignScheduled,
    CampaignStarted,
    CampaignUnscheduled,
)
from events.registry import category_of, encode_data, schema_version_of
from events.store import Position, RecordedEvent
from events.templates import TemplateDeleted
from events.users import UserCreated
from projections.campaigns import CampaignsProjection
from projections.registry import all_projections

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
PROJECTION = CampaignsProjection()
TABLES = {"campaigns": sql.Identifier("readmodel", "campaigns__rebuild"),
          "campaign_lists": sql.Identifier("readmodel", "campaign_lists__rebuild")}
CONTENT = CampaignContent(name="n", subject="s", from_email="f <f@x.y>", template_id=1,
                          lists=[CampaignList(id=3, name="Three"), CampaignList(id=1, name="One")])


def recorded(event: Event) -> RecordedEvent:
    return RecordedEvent(
        position=Position(100, 1), event_id=uuid.uuid4(), stream_id="campaign-7",
        category=category_of(event), version=1, type=event.event_type,
        schema_version=schema_version_of(event), data=msgspec.json.decode(encode_data(event)),
        metadata={}, recorded_at=T0)


def apply(event: Event) -> list[tuple[str, list[object]]]:
    return [(repr(s), list(p.values() if isinstance(p, dict) else p))
            for s, p in PROJECTION.apply(recorded(event), TABLES)]


def test_it_is_registered_and_reads_campaign_and_template_events() -> None:
    assert any(isinstance(p, CampaignsProjection) for p in all_projections())
    assert (PROJECTION.categories, PROJECTION.tables) == (
        ("campaign", "template", "delivery", "tracking", "subscriber"),
        ("campaigns", "campaign_lists"))
    assert len(PROJECTION.create_statements(TABLES)) == 7


def test_created_inserts_a_draft_and_its_lists_in_order() -> None:
    event = CampaignCreated(campaign_id=7, uuid="u", campaign_type="regular", content=CONTENT,
                            at=T0)
    (insert, values), (clear, _), (lists, list_params) = apply(event)
    assert "INSERT INTO" in insert and "campaigns__rebuild" in insert
    assert values[:4] == [7, "u", "regular", "draft"] and values[-2:] == [T0, T0]
    assert "DELETE" in clear and "campaign_lists__rebuild" in lists
    assert list_params == [7, [3, 1], ["Three", "One"]]


def test_transitions_set_status_and_launch_figures() -> None:
    [(sql_text, params)] = apply(CampaignScheduled(campaign_id=7, send_at=T0, at=T0))
    assert "'scheduled'" in sql_text and params == [T0, T0, 7]
    [(_, params)] = apply(CampaignPaused(campaign_id=7, at=T0))
    assert params == ["paused", T0, 7]
    [(_, params)] = apply(CampaignUnscheduled(campaign_id=7, at=T0))
    assert params == ["draft", T0, 7]
    started = CampaignStarted(campaign_id=7, uuid="u", campaign_type="regular", list_ids=[1],
                              to_send=5, max_subscriber_id=9, template_id=1, messenger="email",
                              started_at=T0, at=T0)
    [(sql_text, params)] = apply(started)
    assert "'running'" in sql_text and params == [5, 9, T0, T0, 7]


def test_archive_delete_and_template_deletion() -> None:
    [(_, params)] = apply(CampaignArchiveChanged(campaign_id=7, archive=True, archive_slug="s",
                                                 at=T0))
    assert params[:3] == [True, "s", None] and params[-2:] == [T0, 7]
    assert len(apply(CampaignDeleted(campaign_id=7, at=T0))) == 2
    (moved, params), (cleared, archive_params) = apply(
        TemplateDeleted(template_id=4, default_template_id=1, at=T0))
    assert params == [1, 4] and "template_id = %s WHERE template_id" in moved
    assert "archive_template_id = NULL" in cleared
    assert archive_params == [4]


def test_other_events_change_nothing() -> None:
    assert apply(UserCreated(user_id=1, username="u", user_type="api", at=T0)) == []
