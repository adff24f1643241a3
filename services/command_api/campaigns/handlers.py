"""Command handlers of campaigns: create, update, change status (and the scheduler's start),
archive, delete (one or many), and the test send.

Each takes the command's input, an ``EventStore`` and, when it needs reads no stream answers,
``CampaignLookups``; it reads the lists and templates it names from their streams, decides with
the pure ``campaign_decider`` and stages the events. A route binds the body, calls one handler
(``lookups.with_lookups`` gives it the PostgreSQL lookups) and answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import msgspec

from events.campaigns import CampaignContent, CampaignResumed, CampaignStarted
from events.messages import CampaignTestQueued, MessageContent, seal_content
from events.messages import stream_id as message_stream
from events.store import NO_STREAM, StreamAppend
from gotemplate import TemplateError
from kernel.errors import Conflict, InvalidInput, NotFound
from services.command_api.campaigns.attachments import with_media
from services.command_api.campaigns.audience import (
    TEMPLATE_NOT_FOUND,
    compute_audience,
    resolve_lists,
    resolve_template,
)
from services.command_api.campaigns.binding import CampaignRequest
from services.command_api.campaigns.commands import (
    CAMPAIGN_NOT_FOUND,
    NO_MESSENGER,
    ChangeStatus,
    CreateCampaign,
    DeleteCampaign,
    FinishCampaign,
    ListRef,
    PauseSending,
    SetArchive,
    StartDue,
    UpdateCampaign,
)
from services.command_api.campaigns.content import merge, validate
from services.command_api.campaigns.decider import (
    Live,
    campaign_decider,
    stream_id,
)
from services.command_api.campaigns.lookups import CampaignLookups
from services.command_api.campaigns.messengers import MessengerAvailability
from services.command_api.erasure import SUBJECTS, subjects
from services.command_api.store import EventStore, decide_on, decide_on_each
from services.command_api.templates.decider import Active as ActiveTemplate
from services.command_api.templates.decider import stream_id as template_stream
from services.command_api.templates.decider import template_decider
from services.sender.rendering import compile_campaign, render_campaign
from services.sender.templating import I18n, campaign_funcs
from services.sender.templating.data import ENGLISH, Campaign, CampaignMessage, Subscriber

CAMPAIGN_ID_SEQUENCE = "eventlog.campaign_id_seq"
SLUG_TAKEN = "Archive slug is already used by another campaign."
NO_SUBSCRIBERS = "There are no subscribers to target."
NO_KNOWN_SUBSCRIBERS = "No known subscribers to test."
COMPILE_ERROR = "Error compiling template: {}"
RENDER_ERROR = "Error rendering message: {}"


@dataclass(frozen=True)
class NewCampaign:
    """A campaign to create, as the client sent it; the id comes from the sequence."""

    request: CampaignRequest
    uuid: str
    default_from_email: str
    at: datetime
    # The messengers a campaign may name now (the live settings'); ``email-*`` falls back.
    messengers: tuple[str, ...] = ("email",)


@dataclass(frozen=True)
class CampaignEdit:
    """New content for an existing campaign, as the client sent it."""

    campaign_id: int
    request: CampaignRequest
    default_from_email: str
    at: datetime
    messengers: tuple[str, ...] = ("email",)


def _create_command(new: NewCampaign, campaign_id: int, lists: tuple[ListRef, ...],
                    template_id: int | None) -> CreateCampaign:
    req = new.request
    if req.campaign_type not in ("", "regular", "optin"):
        raise InvalidInput(f"Invalid campaign type: {req.campaign_type!r} (one of regular,"
                           " optin)")
    return CreateCampaign(
        campaign_id=campaign_id, uuid=new.uuid,
        campaign_type="optin" if req.campaign_type == "optin" else "regular",
        patch=req.patch, list_ids=req.list_ids, lists=lists, template_id=template_id,
        default_from_email=new.default_from_email, messengers=new.messengers, at=new.at)


async def create_campaign(new: NewCampaign, store: EventStore, lookups: CampaignLookups
                          ) -> dict[str, Any]:
    """``{"campaign_id": id}`` of the new draft, with the lists it names (their names copied)
    and the requested template, else the default one."""
    lists = await resolve_lists(store, new.request.list_ids)
    template_id, problem = await resolve_template(store, lookups, new.request.template_id)
    new = replace(new, request=await with_media(store, new.request))
    # Validate before taking an id from the sequence.
    campaign_decider.decide(campaign_decider.initial, _create_command(new, 0, lists, template_id))
    if problem:
        raise InvalidInput(problem)
    campaign_id = await store.next_id(CAMPAIGN_ID_SEQUENCE)
    await decide_on(store, stream_id(campaign_id), campaign_decider,
                    _create_command(new, campaign_id, lists, template_id))
    return {"campaign_id": campaign_id}


async def update_campaign(edit: CampaignEdit, store: EventStore, lookups: CampaignLookups
                          ) -> dict[str, Any]:
    """Edit a draft, scheduled or paused campaign; lists the campaign had keep their recorded
    name after the list is deleted, a template that no longer exists gives way to the
    default. The decider's refusals come before a requested template that does not exist."""
    sid = stream_id(edit.campaign_id)
    state, version = await store.load(sid, campaign_decider)
    if not isinstance(state, Live):
        raise NotFound(CAMPAIGN_NOT_FOUND)
    req = await with_media(store, edit.request)
    lists = await resolve_lists(store, req.list_ids, state.content.lists)
    template_id, problem = await resolve_template(store, lookups, req.template_id,
                                                  state.content.template_id)
    command = UpdateCampaign(campaign_id=edit.campaign_id, patch=req.patch,
                             list_ids=req.list_ids, lists=lists, template_id=template_id,
                             default_from_email=edit.default_from_email,
                             messengers=edit.messengers, at=edit.at)
    events = campaign_decider.decide(state, command)
    if problem:
        raise InvalidInput(problem)
    store.append(StreamAppend(sid, version, events))
    return {"campaign_id": edit.campaign_id}


async def change_status(command: ChangeStatus, store: EventStore, lookups: CampaignLookups,
                        messengers: MessengerAvailability | None = None) -> dict[str, Any]:
    """Move the campaign through listmonk's state machine; asking for ``running`` records
    the audience the sender will deliver to, and is refused while the campaign's messenger
    is not enabled (when ``messengers`` can tell)."""
    return await _stage_with_audience(command, store, lookups,
                                       starts=command.status == "running",
                                       messengers=messengers)


async def start_due(command: StartDue, store: EventStore, lookups: CampaignLookups,
                    messengers: MessengerAvailability | None = None) -> dict[str, Any]:
    """The scheduler's start of a scheduled campaign whose ``send_at`` has passed; the
    decider refuses (409) a campaign that is not, or no longer, due."""
    return await _stage_with_audience(command, store, lookups, starts=True,
                                       messengers=messengers)


async def _stage_with_audience(command: ChangeStatus | StartDue, store: EventStore,
                               lookups: CampaignLookups, *, starts: bool,
                               messengers: MessengerAvailability | None = None
                               ) -> dict[str, Any]:
    """Stage the events of a command that may start the campaign, with the audience counted
    on the very state it is decided on (so a retry after a version conflict counts again)."""
    sid = stream_id(command.campaign_id)
    state, version = await store.load(sid, campaign_decider)
    if starts and isinstance(state, Live):
        audience = await compute_audience(store, lookups, state)
        command = msgspec.structs.replace(command, audience=audience)
    events = campaign_decider.decide(state, command)
    for event in events:
        if isinstance(event, CampaignStarted | CampaignResumed) and messengers is not None \
                and event.messenger not in await messengers.enabled_messengers():
            raise InvalidInput(NO_MESSENGER.format(event.messenger))
    store.append(StreamAppend(sid, version, events))
    return {"campaign_id": command.campaign_id}


async def finish_campaign(command: FinishCampaign, store: EventStore) -> dict[str, Any]:
    """The sender delivered (or recorded as failed) every recipient of a running campaign."""
    await decide_on(store, stream_id(command.campaign_id), campaign_decider, command)
    return {"campaign_id": command.campaign_id}


async def pause_sending(command: PauseSending, store: EventStore) -> dict[str, Any]:
    """The sender pauses a running campaign it cannot go on with, saying why."""
    await decide_on(store, stream_id(command.campaign_id), campaign_decider, command)
    return {"campaign_id": command.campaign_id}


async def set_archive(command: SetArchive, store: EventStore, lookups: CampaignLookups
                      ) -> dict[str, Any]:
    """Publish (or withdraw) the campaign on the public archive under a slug no other
    campaign uses."""
    slug = command.archive_slug
    if slug is not None and await lookups.slug_taken(slug, command.campaign_id):
        raise Conflict(SLUG_TAKEN)
    await decide_on(store, stream_id(command.campaign_id), campaign_decider, command)
    return {"campaign_id": command.campaign_id}


async def delete_campaign(command: DeleteCampaign, store: EventStore) -> dict[str, Any]:
    """Delete one campaign; one that does not exist is a 404."""
    await decide_on(store, stream_id(command.campaign_id), campaign_decider, command)
    return {"campaign_id": command.campaign_id}


async def delete_campaigns(campaign_ids: Iterable[int], at: datetime, store: EventStore
                           ) -> dict[str, Any]:
    """Delete each campaign; like listmonk, ids of campaigns that do not exist (or no longer
    exist) are skipped. ``deleted`` names the streams changed."""
    deleted = await decide_on_each(store, campaign_ids, stream_id, campaign_decider,
                                   lambda campaign_id: DeleteCampaign(campaign_id=campaign_id,
                                                                      at=at))
    return {"deleted": deleted}


# --- the test send -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CampaignTest:
    """``POST /api/campaigns/:id/test``: the campaign's fields as posted, the recipients'
    e-mails (lower-cased) and the subscribers found for them, in request order."""

    campaign_id: int
    request: CampaignRequest
    emails: tuple[str, ...]
    subscribers: tuple[Subscriber, ...]
    default_from_email: str
    root_url: str
    at: datetime


class _Prepared(msgspec.Struct, frozen=True, kw_only=True):
    """The validated test: the content to render, the campaign it is and its template."""

    state: Live
    created_at: datetime
    content: CampaignContent
    template_id: int | None
    template_body: str | None



async def send_test(test: CampaignTest, store: EventStore, lookups: CampaignLookups
                    ) -> dict[str, Any]:
    """Render the campaign, as posted, for each test subscriber and queue each message as a
    ``message.campaign_test_queued`` event sealed with the subscriber's key. The result names
    the subscribers and addresses (erasing one clears this command's idempotency record)."""
    prepared = await _prepare(test, store, lookups)
    if not test.emails:
        raise InvalidInput(NO_SUBSCRIBERS)
    if not test.subscribers:
        raise InvalidInput(NO_KNOWN_SUBSCRIBERS)
    rendered = _render(prepared, test.subscribers, test.root_url)
    keys = await store.data_keys([sid for sid, _ in rendered])
    appends = [_queued(prepared, sid, content, keys[sid], test.at)
               for sid, content in rendered if sid in keys]  # a missing key: erased since
    if not appends:
        raise InvalidInput(NO_KNOWN_SUBSCRIBERS)
    store.append(*appends)
    named = subjects([sid for sid, _ in rendered], test.emails)
    return {"queued": len(appends), SUBJECTS: named}


async def _prepare(test: CampaignTest, store: EventStore, lookups: CampaignLookups
                   ) -> _Prepared:
    state, _ = await store.load(stream_id(test.campaign_id), campaign_decider)
    if not isinstance(state, Live):
        raise NotFound(CAMPAIGN_NOT_FOUND)
    req = test.request
    stored = msgspec.structs.replace(state.content, send_at=None)
    list_ids = req.list_ids or tuple(entry.id for entry in state.content.lists)
    lists = await resolve_lists(store, list_ids, state.content.lists)
    content = validate(merge(stored, req.patch), lists=lists, list_ids=list_ids,
                       default_from_email=test.default_from_email, messengers=("email",),
                       now=test.at)
    template_id, problem = await resolve_template(store, lookups, req.template_id,
                                                  state.content.template_id)
    if problem:
        raise InvalidInput(TEMPLATE_NOT_FOUND)
    template_body: str | None = None
    if template_id is not None:
        template, _ = await store.load(template_stream(template_id), template_decider)
        if isinstance(template, ActiveTemplate):
            template_body = template.body
    return _Prepared(state=state, created_at=state.created_at or state.updated_at,
                     content=content, template_id=template_id, template_body=template_body)


def _render(p: _Prepared, subscribers: Iterable[Subscriber], root_url: str
            ) -> list[tuple[int, MessageContent]]:
    """``(subscriber id, MessageContent)`` for each subscriber; 400 on a template error."""
    state, content = p.state, p.content
    funcs = campaign_funcs(root_url=root_url, campaign_uuid=state.uuid, i18n=I18n(ENGLISH))
    try:
        compiled = compile_campaign(content, campaign_uuid=state.uuid,
                                    template_body=p.template_body, funcs=funcs,
                                    root_url=root_url)
    except TemplateError as exc:
        raise InvalidInput(COMPILE_ERROR.format(exc)) from None
    campaign = Campaign(ID=state.campaign_id, UUID=state.uuid, Name=content.name,
                        Subject=content.subject, FromEmail=content.from_email,
                        Tags=list(content.tags), Type=state.campaign_type,
                        ContentType=content.content_type, Status=state.status,
                        CreatedAt=p.created_at, UpdatedAt=state.updated_at)
    out: list[tuple[int, MessageContent]] = []
    for subscriber in subscribers:
        try:
            rendered = render_campaign(compiled, CampaignMessage(Campaign=campaign,
                                                                 Subscriber=subscriber))
        except TemplateError as exc:
            raise InvalidInput(RENDER_ERROR.format(exc)) from None
        out.append((subscriber.ID, rendered))
    return out


def _queued(p: _Prepared, subscriber_id: int, content: MessageContent, key: bytes,
            at: datetime) -> StreamAppend:
    message_id = str(uuid.uuid4())
    event = CampaignTestQueued(
        message_id=message_id, campaign_id=p.state.campaign_id, campaign_uuid=p.state.uuid,
        subscriber_id=subscriber_id, template_id=p.template_id,
        content=seal_content(key, content, message_id, subscriber_id),
        from_email=p.content.from_email, content_type=p.content.content_type,
        messenger=p.content.messenger, at=at)
    return StreamAppend(message_stream(message_id), NO_STREAM, [event])
