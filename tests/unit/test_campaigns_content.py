"""Creating and editing a campaign: request binding, listmonk's defaults and validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from events.base import Event
from events.campaigns import CampaignCreated, CampaignList, CampaignUnscheduled, CampaignUpdated
from kernel.errors import InvalidInput
from services.command_api.campaigns import commands as msg
from services.command_api.campaigns.binding import (
    archive_request,
    campaign_request,
    status_request,
)
from services.command_api.campaigns.commands import (
    CampaignCommand,
    ChangeStatus,
    CreateCampaign,
    ListRef,
    UpdateCampaign,
)
from services.command_api.campaigns.content import normalize_slug
from services.command_api.campaigns.decider import campaign_decider

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
LATER = T0 + timedelta(days=1)
FROM = "postlog <noreply@localhost>"
LISTS = (ListRef(id=1, name="Default list", uuid="u1", list_type="public", optin="double"),
         ListRef(id=2, name="Other", uuid="u2", list_type="private", optin="single"))


def create(body: dict[str, Any], lists: tuple[ListRef, ...] = LISTS,
           template_id: int | None = 1) -> CampaignCreated:
    req = campaign_request(msgspec.json.encode(body))
    command = CreateCampaign(
        campaign_id=9, uuid="uu", campaign_type="optin" if req.campaign_type == "optin"
        else "regular", patch=req.patch, list_ids=req.list_ids, lists=lists,
        template_id=req.template_id or template_id, default_from_email=FROM, at=T0)
    [event] = campaign_decider.decide(campaign_decider.initial, command)
    assert isinstance(event, CampaignCreated)
    return event


def update(given: list[Event], body: dict[str, Any]) -> list[Event]:
    req = campaign_request(msgspec.json.encode(body))
    state = campaign_decider.fold(given)
    command: CampaignCommand = UpdateCampaign(
        campaign_id=9, patch=req.patch, list_ids=req.list_ids, lists=LISTS,
        template_id=req.template_id or 1, default_from_email=FROM, at=LATER)
    return campaign_decider.decide(state, command)


SEED = {"name": "Test campaign", "subject": "Hello, world", "lists": [1],
        "from_email": "listmonk <noreply@listmonk.yoursite.com>", "content_type": "richtext",
        "messenger": "email", "type": "regular", "tags": ["test"], "template_id": 1}


def test_the_seed_example_creates_a_draft_as_given() -> None:
    c = create(SEED).content
    assert (c.name, c.subject, c.from_email, c.content_type, c.messenger, c.tags,
            c.template_id, c.lists, c.body, c.altbody, c.send_at, c.headers) == (
        "Test campaign", "Hello, world", "listmonk <noreply@listmonk.yoursite.com>", "richtext",
        "email", ["test"], 1, [CampaignList(id=1, name="Default list")], "", None, None, [])


def test_nulls_and_absent_fields_take_listmonks_defaults() -> None:
    body = {"name": "n", "subject": "s", "lists": [2], "type": None, "content_type": None,
            "messenger": None, "template_id": None, "from_email": None, "tags": None,
            "headers": None}
    event = create(body, template_id=5)
    c = event.content
    assert (event.campaign_type, c.content_type, c.messenger, c.template_id, c.from_email,
            c.tags, c.headers, c.archive, c.archive_meta) == (
        "regular", "richtext", "email", 5, FROM, [], [], False, {})


def test_an_unknown_content_type_becomes_richtext_and_email_dash_falls_back() -> None:
    c = create({**SEED, "content_type": "pdf", "messenger": "email-gone"}).content
    assert (c.content_type, c.messenger) == ("richtext", "email")


def test_tags_are_normalised_headers_kept() -> None:
    c = create({**SEED, "tags": [" two  words ", ""], "headers": [{"X-A": "1"}]}).content
    assert (c.tags, c.headers) == (["two-words"], [{"X-A": "1"}])


def test_an_optin_campaign_gets_a_confirmation_body_for_double_optin_lists() -> None:
    event = create({**SEED, "type": "optin", "lists": [1, 2], "body": "ignored"})
    assert event.campaign_type == "optin"
    assert "{{ OptinURL }}l=u1" in event.content.body and "u2" not in event.content.body
    assert "Default list" in event.content.body


def test_an_optin_campaign_needs_a_double_optin_list() -> None:
    with pytest.raises(InvalidInput, match=msg.NO_OPTIN_LISTS):
        create({**SEED, "type": "optin", "lists": [2]})


@pytest.mark.parametrize(("change", "message"), [
    ({"from_email": "not an address"}, msg.INVALID_FROM_EMAIL),
    ({"name": ""}, msg.INVALID_NAME),
    ({"name": "x" * 2001}, msg.INVALID_NAME),
    ({"subject": ""}, msg.INVALID_SUBJECT),
    ({"subject": "x" * 5001}, msg.INVALID_SUBJECT),
    ({"send_at": "2023-12-31T09:00:00Z"}, msg.INVALID_SEND_AT),
    ({"lists": []}, msg.INVALID_LIST_IDS),
    ({"lists": None}, msg.INVALID_LIST_IDS),
    ({"lists": [1, 99]}, msg.INVALID_LIST_IDS),
    ({"messenger": "pigeon"}, "Unknown messenger pigeon."),
    ({"tags": ["x" * 101]}, "Invalid tags"),
    ({"body": "{{ if }}"}, "Error compiling campaign body: "),
    ({"body": "{{ NoSuchFunction }}"}, "Error compiling campaign body: "),
    # the first problem in listmonk's order wins
    ({"from_email": "bad", "name": ""}, msg.INVALID_FROM_EMAIL),
    ({"name": "", "lists": []}, msg.INVALID_NAME),
])
def test_invalid_fields_are_refused_with_listmonks_message(change: dict[str, Any],
                                                          message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        create({**SEED, **change})


@pytest.mark.parametrize("from_email", ["a@b.co", "Name <x@y.z>", "<x@y.z>"])
def test_from_email_may_be_an_address_or_a_named_one(from_email: str) -> None:
    assert create({**SEED, "from_email": from_email}).content.from_email == from_email


@pytest.mark.parametrize(("body", "message"), [
    (b"[1]", "expected=object"),
    (b'{"name": 5}', "expected=string, got=number, field=name"),
    (b'{"lists": ["1"]}', "expected=int, got=string, field=lists"),
    (b'{"send_at": 5}', "field=send_at"),
    (b'{"send_at": "tomorrow"}', "Invalid send_at"),
    (b'{"send_at": "2024-01-01T09:00:00"}', "Invalid send_at"),
    (b'{"headers": {"a": "b"}}', "field=headers"),
    (b'{"headers": [{"a": 1}]}', "field=headers"),
    (b'{"template_id": "1"}', "field=template_id"),
    (b"{", "Syntax error"),
])
def test_malformed_bodies_are_400s(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        campaign_request(body)


def test_keys_match_case_insensitively() -> None:
    req = campaign_request(b'{"Name": "x", "LISTS": [3], "Template_ID": 4}')
    assert (req.patch.name, req.list_ids, req.template_id) == ("x", (3,), 4)


def test_update_keeps_what_is_not_sent_and_clears_nullable_fields_sent_null() -> None:
    given: list[Event] = [create({**SEED, "altbody": "alt", "send_at": "2024-02-01T00:00:00Z",
                                  "headers": [{"a": "b"}]})]
    [event] = update(given, {"lists": [2], "altbody": None})
    assert isinstance(event, CampaignUpdated)
    c = event.content
    assert (c.name, c.subject, c.altbody, c.headers, c.lists, c.send_at) == (
        "Test campaign", "Hello, world", None, [{"a": "b"}],
        [CampaignList(id=2, name="Other")], datetime(2024, 2, 1, tzinfo=UTC))


def test_update_needs_the_lists_every_time() -> None:
    with pytest.raises(InvalidInput, match=msg.INVALID_LIST_IDS):
        update([create(SEED)], {"name": "renamed"})


def test_clearing_send_at_of_a_scheduled_campaign_makes_it_a_draft_again() -> None:
    first = create({**SEED, "send_at": "2024-02-01T00:00:00Z"})
    scheduled = campaign_decider.decide(campaign_decider.fold([first]), ChangeStatus(
        campaign_id=9, status="scheduled", at=T0))
    events = update([first, *scheduled], {"lists": [1], "send_at": None})
    assert [type(e) for e in events] == [CampaignUpdated, CampaignUnscheduled]


@pytest.mark.parametrize("status", ["running", "cancelled", "finished"])
def test_only_draft_scheduled_and_paused_campaigns_can_be_edited(status: str) -> None:
    given: list[Event] = [create(SEED)]
    given += campaign_decider.decide(campaign_decider.fold(given), ChangeStatus(
        campaign_id=9, status="running", at=T0))
    if status != "running":
        given += campaign_decider.decide(campaign_decider.fold(given), ChangeStatus(
            campaign_id=9, status=status, at=T0))
    with pytest.raises(InvalidInput, match=msg.CANT_UPDATE):
        update(given, {"lists": [1]})


@pytest.mark.parametrize(("raw", "slug"), [
    ("My Newsletter: old edition!", "my-newsletter-old-edition"),
    ("  Ünïcode  ok ", "ünïcode-ok"), ("!!!", None), ("", None)])
def test_archive_slugs_are_normalised(raw: str, slug: str | None) -> None:
    assert normalize_slug(raw) == slug


def test_archive_and_status_bodies() -> None:
    req = archive_request(b'{"archive": true, "archive_template_id": 1, "archive_meta": {},'
                          b' "archive_slug": "x"}')
    assert (req.archive, req.archive_template_id, req.archive_meta, req.archive_slug) == (
        True, 1, {}, "x")
    assert archive_request(b"").archive_meta is None
    assert status_request(b'{"status": "scheduled"}') == "scheduled"
    assert status_request(b"") == ""
