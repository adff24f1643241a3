"""The campaign decider: pure ``decide`` and ``evolve`` over one ``campaign-<id>`` stream.

listmonk's state machine: a new campaign is a draft; draft -> scheduled (needs ``send_at``) or
running; scheduled -> draft, or running once ``send_at`` has passed (the scheduler); running ->
paused, cancelled or finished; paused -> running, scheduled or cancelled. Asking for
``running`` while ``send_at`` is in the future schedules the campaign instead. Content can only
be edited in draft, scheduled and paused.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from events.base import Event
from events.campaigns import (
    CampaignArchiveChanged,
    CampaignCancelled,
    CampaignContent,
    CampaignCreated,
    CampaignDeleted,
    CampaignFinished,
    CampaignPaused,
    CampaignResumed,
    CampaignScheduled,
    CampaignStarted,
    CampaignStatus,
    CampaignType,
    CampaignUnscheduled,
    CampaignUpdated,
)
from kernel.errors import Conflict, InvalidInput, NotFound
from services.command_api.campaigns.commands import (
    CAMPAIGN_NOT_FOUND,
    CANT_UPDATE,
    INVALID_LIST_IDS,
    NEEDS_SEND_AT,
    NOT_DUE,
    ONLY_ACTIVE_CANCEL,
    ONLY_ACTIVE_PAUSE,
    ONLY_DRAFT_AS_SCHEDULED,
    ONLY_PAUSED_DRAFT,
    ONLY_RUNNING_FINISH,
    ONLY_SCHEDULED_AS_DRAFT,
    Audience,
    CampaignCommand,
    ChangeStatus,
    CreateCampaign,
    DeleteCampaign,
    FinishCampaign,
    PauseSending,
    SetArchive,
    StartDue,
    UpdateCampaign,
)
from services.command_api.campaigns.content import EMPTY, merge, optin_body, validate
from services.command_api.decider import Decider

EDITABLE: tuple[CampaignStatus, ...] = ("draft", "scheduled", "paused")


class Absent(msgspec.Struct, frozen=True):
    """No such campaign has ever been created."""


class Live(msgspec.Struct, frozen=True, kw_only=True):
    """An existing campaign: its content, status and when it first started sending."""

    campaign_id: int
    uuid: str
    campaign_type: CampaignType
    content: CampaignContent
    status: CampaignStatus
    started_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime


class Deleted(msgspec.Struct, frozen=True):
    """The campaign was deleted; its id is never reused."""


CampaignState = Absent | Live | Deleted


def stream_id(campaign_id: int) -> str:
    return f"campaign-{campaign_id}"


def decide(state: CampaignState, command: CampaignCommand) -> list[Event]:
    """The events a command produces on a campaign in ``state``, or a ``DomainError``."""
    if isinstance(command, CreateCampaign):
        return _create(state, command)
    if not isinstance(state, Live):
        raise NotFound(CAMPAIGN_NOT_FOUND)
    if isinstance(command, UpdateCampaign):
        return _update(state, command)
    if isinstance(command, ChangeStatus):
        return _change_status(state, command)
    if isinstance(command, StartDue):
        if state.status != "scheduled" or state.content.send_at is None \
                or state.content.send_at > command.at:
            raise Conflict(NOT_DUE)
        return [_launch(state, command.audience, command.at)]
    if isinstance(command, FinishCampaign):
        if state.status != "running":
            raise InvalidInput(ONLY_RUNNING_FINISH)
        return [CampaignFinished(campaign_id=state.campaign_id, at=command.at)]
    if isinstance(command, PauseSending):
        if state.status != "running":
            raise InvalidInput(ONLY_ACTIVE_PAUSE)
        return [CampaignPaused(campaign_id=state.campaign_id, reason=command.reason,
                               at=command.at)]
    if isinstance(command, SetArchive):
        return [_archive(state, command)]
    assert isinstance(command, DeleteCampaign)
    return [CampaignDeleted(campaign_id=state.campaign_id, at=command.at)]


def _create(state: CampaignState, c: CreateCampaign) -> list[Event]:
    if not isinstance(state, Absent):
        raise Conflict(f"campaign {c.campaign_id} already exists")
    content = merge(EMPTY, c.patch)
    if c.campaign_type == "optin":
        if not c.list_ids:
            raise InvalidInput(INVALID_LIST_IDS)
        requested = tuple(ref for ref in c.lists if ref.id in c.list_ids)
        content = msgspec.structs.replace(content, body=optin_body(requested))
    content = msgspec.structs.replace(content, template_id=c.template_id)
    content = validate(content, lists=c.lists, list_ids=c.list_ids,
                       default_from_email=c.default_from_email, messengers=c.messengers,
                       now=c.at)
    return [CampaignCreated(campaign_id=c.campaign_id, uuid=c.uuid,
                            campaign_type=c.campaign_type, content=content, at=c.at)]


def _update(state: Live, c: UpdateCampaign) -> list[Event]:
    if state.status not in EDITABLE:
        raise InvalidInput(CANT_UPDATE)
    content = msgspec.structs.replace(merge(state.content, c.patch), template_id=c.template_id)
    content = validate(content, lists=c.lists, list_ids=c.list_ids,
                       default_from_email=c.default_from_email, messengers=c.messengers,
                       now=c.at)
    events: list[Event] = [CampaignUpdated(campaign_id=state.campaign_id, content=content,
                                           at=c.at)]
    if state.status == "scheduled" and content.send_at is None:
        events.append(CampaignUnscheduled(campaign_id=state.campaign_id, at=c.at))
    return events


def _change_status(state: Live, c: ChangeStatus) -> list[Event]:
    send_at = state.content.send_at
    current = state.status
    if c.status == "draft":
        if current != "scheduled":
            raise InvalidInput(ONLY_SCHEDULED_AS_DRAFT)
        return [CampaignUnscheduled(campaign_id=state.campaign_id, at=c.at)]
    if c.status == "scheduled":
        if send_at is None:
            raise InvalidInput(NEEDS_SEND_AT)
        if current not in ("draft", "paused"):
            raise InvalidInput(ONLY_DRAFT_AS_SCHEDULED)
        return [CampaignScheduled(campaign_id=state.campaign_id, send_at=send_at, at=c.at)]
    if c.status == "running":
        if current not in ("draft", "paused"):
            raise InvalidInput(ONLY_PAUSED_DRAFT)
        if send_at is not None and send_at > c.at:
            return [CampaignScheduled(campaign_id=state.campaign_id, send_at=send_at, at=c.at)]
        return [_launch(state, c.audience, c.at)]
    if c.status == "paused":
        if current != "running":
            raise InvalidInput(ONLY_ACTIVE_PAUSE)
        return [CampaignPaused(campaign_id=state.campaign_id, at=c.at)]
    if c.status == "cancelled":
        if current not in ("running", "paused"):
            raise InvalidInput(ONLY_ACTIVE_CANCEL)
        return [CampaignCancelled(campaign_id=state.campaign_id, at=c.at)]
    if c.status == "finished":
        if current != "running":
            raise InvalidInput(ONLY_RUNNING_FINISH)
        return [CampaignFinished(campaign_id=state.campaign_id, at=c.at)]
    raise InvalidInput(
        f"Invalid campaign status: {c.status!r} (one of draft, scheduled, running, paused,"
        " cancelled, finished)")


def _launch(state: Live, audience: Audience, at: datetime) -> Event:
    """``campaign.started`` the first time, ``campaign.resumed`` after that."""
    template_id = audience.template_id
    if template_id is None:
        template_id = state.content.template_id
    launch = CampaignStarted if state.started_at is None else CampaignResumed
    return launch(
        campaign_id=state.campaign_id, uuid=state.uuid, campaign_type=state.campaign_type,
        list_ids=list(audience.list_ids), to_send=audience.to_send,
        max_subscriber_id=audience.max_subscriber_id, template_id=template_id,
        messenger=state.content.messenger, started_at=state.started_at or at, at=at)


def _archive(state: Live, c: SetArchive) -> Event:
    content = state.content
    return CampaignArchiveChanged(
        campaign_id=state.campaign_id, archive=c.archive, archive_slug=c.archive_slug,
        archive_template_id=c.archive_template_id if c.archive_template_id is not None
        else content.archive_template_id,
        archive_meta=c.archive_meta if c.archive_meta is not None else content.archive_meta,
        at=c.at)


_STATUS_OF: dict[type[Event], CampaignStatus] = {
    CampaignScheduled: "scheduled", CampaignUnscheduled: "draft", CampaignStarted: "running",
    CampaignResumed: "running", CampaignPaused: "paused", CampaignCancelled: "cancelled",
    CampaignFinished: "finished",
}


def evolve(state: CampaignState, event: Event) -> CampaignState:
    """The campaign's state after ``event``."""
    if isinstance(event, CampaignCreated):
        return Live(campaign_id=event.campaign_id, uuid=event.uuid,
                    campaign_type=event.campaign_type, content=event.content, status="draft",
                    created_at=event.at, updated_at=event.at)
    if not isinstance(state, Live):
        return state
    if isinstance(event, CampaignUpdated):
        return msgspec.structs.replace(state, content=event.content, updated_at=event.at)
    if isinstance(event, CampaignArchiveChanged):
        content = msgspec.structs.replace(
            state.content, archive=event.archive, archive_slug=event.archive_slug,
            archive_template_id=event.archive_template_id, archive_meta=event.archive_meta)
        return msgspec.structs.replace(state, content=content, updated_at=event.at)
    if isinstance(event, CampaignDeleted):
        return Deleted()
    status = _STATUS_OF.get(type(event))
    if status is None:
        return state
    started_at = state.started_at
    if isinstance(event, CampaignStarted):
        started_at = event.started_at
    return msgspec.structs.replace(state, status=status, started_at=started_at,
                                   updated_at=getattr(event, "at", state.updated_at))


campaign_decider: Decider[CampaignState, CampaignCommand] = Decider(
    initial=Absent(), decide=decide, evolve=evolve
)
