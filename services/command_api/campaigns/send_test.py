"""``POST /api/campaigns/:id/test``: render the campaign for a few subscribers and queue it.

As listmonk's ``TestCampaign``: the body holds the campaign's fields (as in an update) plus
``subscribers``, the test recipients' e-mails. The fields are validated like an update's (same
messages); the campaign is rendered as posted, inside its template (or the posted
``template_id``), for each known subscriber, with listmonk's headers. Each message is one
``message.campaign_test_queued`` event sealed with the subscriber's key; delivery is the
sender's job. Answers ``{"data": true}``.

Differences from listmonk: fields the request leaves out keep the stored campaign's values
(listmonk treats them as empty and refuses the test), the lists may be left out too; template
compile and render errors are 400s (listmonk answers 500 and 404).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec
import psycopg
from litestar import Request, Response, post
from litestar.di import NamedDependency
from litestar.params import FromPath

from events.campaigns import CampaignContent, CampaignCreated
from events.crypto import load_keys, master_key_from
from events.messages import CampaignTestQueued, MessageContent, seal_content, stream_id
from events.store import NO_STREAM, StreamAppend, read_stream
from gotemplate import TemplateError
from kernel.errors import InvalidInput, NotFound
from services.auth.guard import require_auth
from services.command_api.campaigns.audience import resolve_lists, resolve_template
from services.command_api.campaigns.binding import campaign_request
from services.command_api.campaigns.commands import CAMPAIGN_NOT_FOUND
from services.command_api.campaigns.content import merge, validate
from services.command_api.campaigns.decider import Live, campaign_decider
from services.command_api.campaigns.decider import stream_id as campaign_stream
from services.command_api.context import command_context
from services.command_api.decider import load
from services.command_api.erasure import SUBJECTS, subjects
from services.command_api.executor import Decision, execute
from services.command_api.respond import answer
from services.command_api.templates.decider import Active as ActiveTemplate
from services.command_api.templates.decider import stream_id as template_stream
from services.command_api.templates.decider import template_decider
from services.command_api.tx.recipients import find_subscribers
from services.http.binding import bind_object, read_body, string_list
from services.http.params import path_id
from services.runtime import Runtime
from services.sender.rendering import compile_campaign, render_campaign
from services.sender.templating import I18n, campaign_funcs
from services.sender.templating.data import (
    ENGLISH,
    Campaign,
    CampaignMessage,
    Subscriber,
)

NO_SUBSCRIBERS = "There are no subscribers to target."
NO_KNOWN_SUBSCRIBERS = "No known subscribers to test."
TEMPLATE_NOT_FOUND = "Template not found"
COMPILE_ERROR = "Error compiling template: {}"
RENDER_ERROR = "Error rendering message: {}"
AnyRequest = Request[Any, Any, Any]
Conn = psycopg.AsyncConnection[Any]


class _Prepared(msgspec.Struct, frozen=True, kw_only=True):
    """The validated test: the content to render, the campaign it is and its template."""

    state: Live
    created_at: datetime
    content: CampaignContent
    template_id: int | None
    template_body: str | None


async def _prepare(conn: Conn, campaign_id: int, body: bytes, default_from: str,
                   now: datetime) -> _Prepared:
    req = campaign_request(body)
    recorded = await read_stream(conn, campaign_stream(campaign_id))
    events = [r.decode() for r in recorded]
    state = campaign_decider.fold(events)
    if not isinstance(state, Live):
        raise NotFound(CAMPAIGN_NOT_FOUND)
    first = events[0]
    created_at = first.at if isinstance(first, CampaignCreated) else state.updated_at
    stored = msgspec.structs.replace(state.content, send_at=None)
    list_ids = req.list_ids or tuple(entry.id for entry in state.content.lists)
    lists = await resolve_lists(conn, list_ids, state.content.lists)
    content = validate(merge(stored, req.patch), lists=lists, list_ids=list_ids,
                       default_from_email=default_from, messengers=("email",), now=now)
    template_id, problem = await resolve_template(conn, req.template_id,
                                                  state.content.template_id)
    if problem:
        raise InvalidInput(TEMPLATE_NOT_FOUND)
    template_body: str | None = None
    if template_id is not None:
        template, _ = await load(conn, template_stream(template_id), template_decider)
        if isinstance(template, ActiveTemplate):
            template_body = template.body
    return _Prepared(state=state, created_at=created_at, content=content,
                     template_id=template_id, template_body=template_body)


def _emails(body: bytes) -> list[str]:
    data = bind_object(body, ("subscribers",))
    found = string_list(data.get("subscribers"), "pq.StringArray", "subscribers") or []
    return [e.strip().lower() for e in found]


def _render(p: _Prepared, subscribers: list[Subscriber], root_url: str
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


@post("/api/campaigns/{campaign_id:str}/test", guards=[require_auth],
      operation_id="testCampaignById", status_code=200)
async def send_campaign_test(request: AnyRequest, runtime: NamedDependency[Runtime],
                        campaign_id: FromPath[str]) -> Response[bytes]:
    """Queue the campaign, as posted, for the test subscribers."""
    target = path_id(campaign_id)
    body = await read_body(request, bytes, None, b"")
    settings = runtime.settings
    at = datetime.now(UTC)
    async with runtime.pool.connection() as conn:
        prepared = await _prepare(conn, target, body, settings.from_email, at)
    emails = _emails(body)
    if not emails:
        raise InvalidInput(NO_SUBSCRIBERS)
    _, by_email = await find_subscribers(runtime.read_pool, (), emails)
    subscribers = [by_email[e] for e in dict.fromkeys(emails) if e in by_email]
    if not subscribers:
        raise InvalidInput(NO_KNOWN_SUBSCRIBERS)
    rendered = _render(prepared, subscribers, settings.root_url)
    master_key = master_key_from(settings.master_key)
    ctx = await command_context(request)

    async def decide(conn: Conn) -> Decision:
        keys = await load_keys(conn, [sid for sid, _ in rendered], master_key=master_key)
        appends: list[StreamAppend] = []
        for subscriber_id, content in rendered:
            key = keys.get(subscriber_id)
            if key is None:  # erased since it was read
                continue
            appends.append(_append(prepared, subscriber_id, content, key, at))
        if not appends:
            raise InvalidInput(NO_KNOWN_SUBSCRIBERS)
        # The request names these addresses: erasing one of them clears this command's
        # idempotency record (its fingerprint is a digest of the request).
        named = subjects([sid for sid, _ in rendered], emails)
        return Decision(appends, {"queued": len(appends), SUBJECTS: named})

    outcome = await execute(runtime.pool, ctx, decide)
    return await answer(runtime, ctx, outcome, ())


def _append(p: _Prepared, subscriber_id: int, content: MessageContent, key: bytes,
            at: datetime) -> StreamAppend:
    message_id = str(uuid.uuid4())
    event = CampaignTestQueued(
        message_id=message_id, campaign_id=p.state.campaign_id, campaign_uuid=p.state.uuid,
        subscriber_id=subscriber_id, template_id=p.template_id,
        content=seal_content(key, content, message_id, subscriber_id),
        from_email=p.content.from_email, content_type=p.content.content_type,
        messenger=p.content.messenger, at=at)
    return StreamAppend(stream_id(message_id), NO_STREAM, [event])
