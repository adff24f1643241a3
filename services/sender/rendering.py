"""A campaign compiled once and rendered per subscriber, as listmonk's manager does.

``compile_campaign`` mirrors listmonk's ``Campaign.CompileTemplate``: the subject, the alt body
and every header value holding ``{{ }}`` become templates (text templates, the alt body an
HTML one, as in listmonk), the body is wrapped in the campaign's template. ``render_campaign``
mirrors ``NewCampaignMessage`` + the worker's header set: the rendered subject, body, alt body
(only for non-plain campaigns that have one) and headers — listmonk's ``X-Listmonk-Campaign``,
``X-Listmonk-Subscriber``, ``List-Unsubscribe-Post`` and ``List-Unsubscribe`` first, then the
campaign's own. ``services.sender.message.build_mime`` turns the result into an e-mail.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from events.campaigns import CampaignContent
from events.messages import MessageContent
from gotemplate import Template, TemplateError
from gotemplate.values import Limits
from services.sender.templating import (
    ListmonkURLs,
    Literal,
    compile_altbody,
    compile_campaign_body,
    compile_header,
    compile_subject,
)
from services.sender.templating.data import CampaignMessage

HEADER_CAMPAIGN = "X-Listmonk-Campaign"
HEADER_SUBSCRIBER = "X-Listmonk-Subscriber"
ONE_CLICK = "List-Unsubscribe=One-Click"

Part = Template | Literal


@dataclass(frozen=True)
class CompiledCampaign:
    """Everything needed to render one campaign's message for any subscriber (thread-safe)."""

    uuid: str
    from_email: str
    content_type: str
    subject: Part
    body: Template
    altbody: Part | None
    headers: tuple[tuple[tuple[str, Part], ...], ...]
    urls: ListmonkURLs
    unsubscribe_header: bool = True


def compile_campaign(content: CampaignContent, *, campaign_uuid: str, template_body: str | None,
                     funcs: dict[str, Callable[..., Any]], root_url: str,
                     unsubscribe_header: bool = True,
                     limits: Limits | None = None) -> CompiledCampaign:
    """Compile the campaign's parts; ``TemplateError`` names the part that failed."""
    try:
        subject = compile_subject(content.subject, funcs=funcs, limits=limits)
    except TemplateError as exc:
        raise TemplateError(f"error compiling subject: {exc}") from None
    body = compile_campaign_body(content.body, funcs=funcs, content_type=content.content_type,
                                 template_body=template_body or None, limits=limits)
    altbody: Part | None = None
    if content.altbody:
        try:
            altbody = compile_altbody(content.altbody, funcs=funcs, limits=limits)
        except TemplateError as exc:
            raise TemplateError(f"error compiling alt plaintext message: {exc}") from None
    headers: list[tuple[tuple[str, Part], ...]] = []
    for header_set in content.headers:
        compiled: list[tuple[str, Part]] = []
        for name, value in header_set.items():
            try:
                compiled.append((name, compile_header(value, funcs=funcs, limits=limits)))
            except TemplateError as exc:
                raise TemplateError(f"error compiling header {name!r}: {exc}") from None
        headers.append(tuple(compiled))
    return CompiledCampaign(uuid=campaign_uuid, from_email=content.from_email,
                            content_type=content.content_type,
                            subject=subject, body=body, altbody=altbody, headers=tuple(headers),
                            urls=ListmonkURLs(root_url), unsubscribe_header=unsubscribe_header)


def listmonk_headers(campaign_uuid: str, subscriber_uuid: str,
                     unsubscribe_url: str | None) -> list[tuple[str, str]]:
    """The headers listmonk puts on every campaign message (without the unsubscribe pair when
    ``unsubscribe_url`` is None: listmonk's ``privacy.unsubscribe_header`` off)."""
    headers = [(HEADER_CAMPAIGN, campaign_uuid), (HEADER_SUBSCRIBER, subscriber_uuid)]
    if unsubscribe_url is not None:
        headers += [("List-Unsubscribe-Post", ONE_CLICK),
                    ("List-Unsubscribe", f"<{unsubscribe_url}>")]
    return headers


def render_campaign(compiled: CompiledCampaign, message: CampaignMessage) -> MessageContent:
    """The campaign's message for ``message.Subscriber``; ``TemplateError`` if a part fails."""
    subscriber = message.Subscriber
    subject = compiled.subject.render(message)
    body = compiled.body.render(message)
    altbody: str | None = None
    if compiled.content_type != "plain" and compiled.altbody is not None:
        altbody = compiled.altbody.render(message)
    unsubscribe = (compiled.urls.unsubscribe(compiled.uuid, subscriber.UUID)
                   if compiled.unsubscribe_header else None)
    headers = listmonk_headers(compiled.uuid, subscriber.UUID, unsubscribe)
    for header_set in compiled.headers:
        for name, part in header_set:
            try:
                headers.append((name, part.render(message)))
            except TemplateError as exc:
                raise TemplateError(f"error rendering header {name!r}: {exc}") from None
    return MessageContent(to=[subscriber.Email], name=subscriber.Name, subject=subject,
                          body=body, altbody=altbody, headers=headers)
