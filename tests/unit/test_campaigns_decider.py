"""The campaign state machine, given/when/then: every allowed and every refused transition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from events.base import Event
from events.campaigns import (
    CampaignArchiveChanged,
    CampaignCancelled,
    CampaignContent,
    CampaignCreated,
    CampaignDeleted,
    CampaignFinished,
    CampaignList,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignStarted,
    CampaignUnscheduled,
    CampaignUpdated,
)
from kernel.errors import Conflict, DomainError, InvalidInput, NotFound
from services.command_api.campaigns import commands as msg
from services.command_api.campaigns.commands import (
    Audience,
    CampaignCommand,
    CampaignPatch,
    ChangeStatus,
    DeleteCampaign,
    FinishCampaign,
    ListRef,
    SetArchive,
    StartDue,
    UpdateCampaign,
)
from services.command_api.campaigns.decider import Live, campaign_decider
from tests.unit.given_when_then import when_deciding

T0 = datetime(2024, 1, 1, 9, 0, tzinfo=UTC)
SEND_AT = T0 + timedelta(days=1)
BEFORE = T0 + timedelta(hours=1)  # send_at is still in the future
AFTER = T0 + timedelta(days=2)  # send_at has passed
UUID = "57702beb-6fae-4355-a324-c2fd5b59a549"
ID = 7
AUDIENCE = Audience(list_ids=(1,), to_send=3, max_subscriber_id=42, template_id=1)
LIST = ListRef(id=1, name="Default list")


def content(send_at: datetime | None = None) -> CampaignContent:
    return CampaignContent(name="Test campaign", subject="Hello", from_email="a <a@b.c>",
                           send_at=send_at, template_id=1,
                           lists=[CampaignList(id=1, name="Default list")])


def created(send_at: datetime | None = None) -> list[Event]:
    return [CampaignCreated(campaign_id=ID, uuid=UUID, campaign_type="regular",
                            content=content(send_at), at=T0)]


def started(at: datetime = T0) -> CampaignStarted:
    return CampaignStarted(campaign_id=ID, uuid=UUID, campaign_type="regular", list_ids=[1],
                           to_send=3, max_subscriber_id=42, template_id=1, messenger="email",
                           started_at=at, at=at)


def resumed(at: datetime) -> CampaignResumed:
    return CampaignResumed(campaign_id=ID, uuid=UUID, campaign_type="regular", list_ids=[1],
                           to_send=3, max_subscriber_id=42, template_id=1, messenger="email",
                           started_at=T0, at=at)


def history(status: str, send_at: datetime | None = None) -> list[Event]:
    """Events leading to a campaign in ``status``."""
    base = created(send_at)
    running = [*base, started()]
    return {
        "draft": base,
        "scheduled": [*base, CampaignScheduled(campaign_id=ID, send_at=SEND_AT, at=T0)],
        "running": running,
        "paused": [*running, CampaignPaused(campaign_id=ID, at=T0)],
        "cancelled": [*running, CampaignCancelled(campaign_id=ID, at=T0)],
        "finished": [*running, CampaignFinished(campaign_id=ID, at=T0)],
        "deleted": [*base, CampaignDeleted(campaign_id=ID, at=T0)],
        "absent": [],
    }[status]


when = when_deciding(campaign_decider)


def to(status: str, at: datetime = BEFORE) -> ChangeStatus:
    return ChangeStatus(campaign_id=ID, status=status, audience=AUDIENCE, at=at)


ALLOWED = [
    # (from, send_at, asked, at, then)
    ("draft", SEND_AT, "scheduled", BEFORE, [CampaignScheduled(campaign_id=ID, send_at=SEND_AT,
                                                               at=BEFORE)]),
    ("draft", None, "running", BEFORE, [started(BEFORE)]),
    ("draft", SEND_AT, "running", BEFORE, [CampaignScheduled(campaign_id=ID, send_at=SEND_AT,
                                                             at=BEFORE)]),
    ("draft", SEND_AT, "running", AFTER, [started(AFTER)]),
    ("scheduled", SEND_AT, "draft", BEFORE, [CampaignUnscheduled(campaign_id=ID, at=BEFORE)]),
    ("running", None, "paused", BEFORE, [CampaignPaused(campaign_id=ID, at=BEFORE)]),
    ("running", None, "cancelled", BEFORE, [CampaignCancelled(campaign_id=ID, at=BEFORE)]),
    ("running", None, "finished", BEFORE, [CampaignFinished(campaign_id=ID, at=BEFORE)]),
    ("paused", None, "running", BEFORE, [resumed(BEFORE)]),
    ("paused", SEND_AT, "running", BEFORE, [CampaignScheduled(campaign_id=ID, send_at=SEND_AT,
                                                              at=BEFORE)]),
    ("paused", SEND_AT, "running", AFTER, [resumed(AFTER)]),
    ("paused", SEND_AT, "scheduled", BEFORE, [CampaignScheduled(campaign_id=ID, send_at=SEND_AT,
                                                                at=BEFORE)]),
    ("paused", None, "cancelled", BEFORE, [CampaignCancelled(campaign_id=ID, at=BEFORE)]),
]


@pytest.mark.parametrize(("start", "send_at", "asked", "at", "then"), ALLOWED)
def test_allowed_transition(start: str, send_at: datetime | None, asked: str, at: datetime,
                            then: list[Event]) -> None:
    assert when(history(start, send_at), to(asked, at)) == then


REFUSED = [
    # (from, send_at, asked, message)
    ("draft", None, "draft", msg.ONLY_SCHEDULED_AS_DRAFT),
    ("draft", None, "scheduled", msg.NEEDS_SEND_AT),
    ("draft", None, "paused", msg.ONLY_ACTIVE_PAUSE),
    ("draft", None, "cancelled", msg.ONLY_ACTIVE_CANCEL),
    ("draft", None, "finished", msg.ONLY_RUNNING_FINISH),
    ("scheduled", SEND_AT, "scheduled", msg.ONLY_DRAFT_AS_SCHEDULED),
    ("scheduled", SEND_AT, "running", msg.ONLY_PAUSED_DRAFT),
    ("scheduled", SEND_AT, "paused", msg.ONLY_ACTIVE_PAUSE),
    ("scheduled", SEND_AT, "cancelled", msg.ONLY_ACTIVE_CANCEL),
    ("scheduled", SEND_AT, "finished", msg.ONLY_RUNNING_FINISH),
    ("running", None, "draft", msg.ONLY_SCHEDULED_AS_DRAFT),
    ("running", None, "scheduled", msg.NEEDS_SEND_AT),
    ("running", SEND_AT, "scheduled", msg.ONLY_DRAFT_AS_SCHEDULED),
    ("running", None, "running", msg.ONLY_PAUSED_DRAFT),
    ("paused", None, "draft", msg.ONLY_SCHEDULED_AS_DRAFT),
    ("paused", None, "scheduled", msg.NEEDS_SEND_AT),
    ("paused", None, "paused", msg.ONLY_ACTIVE_PAUSE),
    ("paused", None, "finished", msg.ONLY_RUNNING_FINISH),
    *[(done, SEND_AT, asked, message) for done in ("cancelled", "finished")
      for asked, message in (("draft", msg.ONLY_SCHEDULED_AS_DRAFT),
                             ("scheduled", msg.ONLY_DRAFT_AS_SCHEDULED),
                             ("running", msg.ONLY_PAUSED_DRAFT),
                             ("paused", msg.ONLY_ACTIVE_PAUSE),
                             ("cancelled", msg.ONLY_ACTIVE_CANCEL),
                             ("finished", msg.ONLY_RUNNING_FINISH))],
]


@pytest.mark.parametrize(("start", "send_at", "asked", "message"), REFUSED)
def test_refused_transition_is_a_400_with_listmonks_message(
        start: str, send_at: datetime | None, asked: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        when(history(start, send_at), to(asked))
    assert refused.value.message == message and refused.value.status_code == 400


@pytest.mark.parametrize("asked", ["", "Running", "sending", "archived"])
def test_unknown_status_is_refused(asked: str) -> None:
    with pytest.raises(InvalidInput, match="Invalid campaign status"):
        when(history("draft"), to(asked))


@pytest.mark.parametrize("start", ["absent", "deleted"])
@pytest.mark.parametrize("command", [
    to("running"), StartDue(campaign_id=ID, at=AFTER), FinishCampaign(campaign_id=ID, at=T0),
    SetArchive(campaign_id=ID, archive=True, at=T0), DeleteCampaign(campaign_id=ID, at=T0),
    UpdateCampaign(campaign_id=ID, patch=CampaignPatch(), list_ids=(1,), lists=(LIST,),
                   default_from_email="x <x@y.z>", at=T0),
])
def test_a_missing_campaign_is_not_found(start: str, command: CampaignCommand) -> None:
    with pytest.raises(NotFound, match="Campaign not found"):
        when(history(start), command)


def test_the_scheduler_starts_a_due_campaign() -> None:
    assert when(history("scheduled", SEND_AT),
                StartDue(campaign_id=ID, audience=AUDIENCE, at=AFTER)) == [started(AFTER)]


def test_the_scheduler_resumes_a_paused_campaign_that_was_rescheduled() -> None:
    given = [*history("paused", SEND_AT), CampaignScheduled(campaign_id=ID, send_at=SEND_AT,
                                                            at=T0)]
    assert when(given, StartDue(campaign_id=ID, audience=AUDIENCE, at=AFTER)) == [resumed(AFTER)]


@pytest.mark.parametrize(("start", "at"), [("scheduled", BEFORE), ("draft", AFTER),
                                           ("running", AFTER), ("paused", AFTER)])
def test_the_scheduler_leaves_campaigns_that_are_not_due(start: str, at: datetime) -> None:
    with pytest.raises(Conflict):
        when(history(start, SEND_AT), StartDue(campaign_id=ID, audience=AUDIENCE, at=at))


def test_the_sender_finishes_only_a_running_campaign() -> None:
    assert when(history("running"), FinishCampaign(campaign_id=ID, at=AFTER)) == [
        CampaignFinished(campaign_id=ID, at=AFTER)]
    for start in ("draft", "paused", "cancelled", "finished"):
        with pytest.raises(DomainError, match=msg.ONLY_RUNNING_FINISH):
            when(history(start), FinishCampaign(campaign_id=ID, at=AFTER))


def test_a_launch_carries_the_audience_for_the_sender() -> None:
    [event] = when(history("draft"), to("running", BEFORE))
    assert isinstance(event, CampaignStarted)
    assert (event.list_ids, event.to_send, event.max_subscriber_id, event.template_id,
            event.started_at) == ([1], 3, 42, 1, BEFORE)


def test_a_launch_without_a_template_in_the_audience_uses_the_campaigns() -> None:
    command = ChangeStatus(campaign_id=ID, status="running", audience=Audience(), at=BEFORE)
    [event] = when(history("draft"), command)
    assert isinstance(event, CampaignStarted) and event.template_id == 1


@pytest.mark.parametrize("start", ["draft", "scheduled", "running", "paused", "cancelled",
                                   "finished"])
def test_delete_works_in_every_status(start: str) -> None:
    assert when(history(start, SEND_AT), DeleteCampaign(campaign_id=ID, at=AFTER)) == [
        CampaignDeleted(campaign_id=ID, at=AFTER)]


@pytest.mark.parametrize("start", ["draft", "running", "finished"])
def test_archive_changes_in_any_status_and_keeps_what_is_not_sent(start: str) -> None:
    given = [*history(start), CampaignArchiveChanged(
        campaign_id=ID, archive=True, archive_slug="old", archive_template_id=4,
        archive_meta={"name": "x"}, at=T0)]
    then = when(given, SetArchive(campaign_id=ID, archive=False, at=AFTER))
    assert then == [CampaignArchiveChanged(campaign_id=ID, archive=False, archive_slug=None,
                                           archive_template_id=4, archive_meta={"name": "x"},
                                           at=AFTER)]


def test_evolve_tracks_status_and_first_start() -> None:
    state = campaign_decider.fold([*history("paused"), resumed(AFTER)])
    assert isinstance(state, Live)
    assert (state.status, state.started_at, state.updated_at) == ("running", T0, AFTER)
    unscheduled = campaign_decider.fold(
        [*history("scheduled", SEND_AT), CampaignUnscheduled(campaign_id=ID, at=AFTER)])
    assert isinstance(unscheduled, Live) and unscheduled.status == "draft"


def test_evolve_applies_updates_and_archive_settings() -> None:
    new = msgspec.structs.replace(content(), name="Renamed")
    state = campaign_decider.fold([
        *history("draft"), CampaignUpdated(campaign_id=ID, content=new, at=BEFORE),
        CampaignArchiveChanged(campaign_id=ID, archive=True, archive_slug="s", at=AFTER)])
    assert isinstance(state, Live)
    assert (state.content.name, state.content.archive, state.content.archive_slug,
            state.updated_at) == ("Renamed", True, "s", AFTER)
