"""Rendering a transactional message per recipient, as listmonk's ``TxMessage.Render`` does.

The template's body is an HTML template named ``base`` with listmonk's generic functions
(Sprig, ``Date``, ``L``, ``Safe``; no tracking functions). The request's ``subject`` replaces
the template's when given; subject and alt body are text templates when they hold ``{{ }}``.
The dot is ``{Subscriber, Tx}``: ``.Tx`` exposes the request's fields under listmonk's Go
names (``.Tx.Data.order_id``), with JSON numbers as float64 like Go's ``map[string]any``.

Unlike listmonk, which overwrites the request's subject and alt body with the first
recipient's rendering (so later recipients of a templated request subject get the first
one's), every recipient is rendered from the request as sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from events.messages import MessageContent
from gotemplate import Template, TemplateError, go_json_value
from kernel.errors import InvalidInput
from services.command_api.templates.decider import Active as ActiveTemplate
from services.command_api.tx.binding import TxRequest
from services.sender.templating import (
    I18n,
    Literal,
    compile_tx_body,
    compile_tx_text,
    generic_funcs,
)
from services.sender.templating.data import Subscriber

RENDER_ERROR = "Error rendering message: {}"
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)

Part = Template | Literal


@dataclass(frozen=True)
class TxData:
    """``.Tx`` in a transactional template: listmonk's ``models.TxMessage`` fields."""

    __template_fields__: ClassVar[frozenset[str]] = frozenset({
        "SubscriberMode", "SubscriberEmails", "SubscriberIDs", "SubscriberEmail", "SubscriberID",
        "TemplateID", "Data", "FromEmail", "Headers", "ContentType", "Messenger", "Subject",
        "AltBody"})

    SubscriberMode: str
    SubscriberEmails: list[str]
    SubscriberIDs: list[int]
    SubscriberEmail: str
    SubscriberID: int
    TemplateID: int
    Data: dict[str, Any]
    FromEmail: str
    Headers: list[dict[str, str]]
    ContentType: str
    Messenger: str
    Subject: str
    AltBody: str

    @classmethod
    def of(cls, req: TxRequest) -> TxData:
        return cls(SubscriberMode=req.subscriber_mode, SubscriberEmails=list(req.subscriber_emails),
                   SubscriberIDs=list(req.subscriber_ids), SubscriberEmail=req.subscriber_email,
                   SubscriberID=req.subscriber_id, TemplateID=req.template_id,
                   Data=go_json_value(req.data), FromEmail=req.from_email,
                   Headers=[dict(h) for h in req.headers], ContentType=req.content_type,
                   Messenger=req.messenger, Subject=req.subject, AltBody=req.altbody)


@dataclass(frozen=True)
class TxDot:
    """The dot of a transactional template."""

    Subscriber: Subscriber
    Tx: TxData


@dataclass(frozen=True)
class CompiledTx:
    """A request's templates, compiled once and rendered for each recipient."""

    body: Template
    subject: Part
    altbody: Part | None
    tx: TxData
    headers: list[tuple[str, str]] = field(default_factory=list)


def external_subscriber(email: str) -> Subscriber:
    """listmonk's ephemeral subscriber for an address that is not a subscriber: only the
    e-mail is set (everything else is Go's zero value)."""
    return Subscriber(ID=0, UUID="", Email=email, Name="", Attribs={}, Status="", Lists=[],
                      CreatedAt=GO_ZERO_TIME, UpdatedAt=GO_ZERO_TIME)


def compile_tx(req: TxRequest, template: ActiveTemplate, *,
               i18n: I18n | None = None) -> CompiledTx:
    """Compile the template and the request's subject / alt body (400 on an error)."""
    funcs = generic_funcs(i18n=i18n)
    try:
        body = compile_tx_body(template.body, funcs=funcs)
    except TemplateError as exc:
        raise InvalidInput(RENDER_ERROR.format(exc)) from None
    try:
        subject = compile_tx_text(req.subject or template.subject, funcs=funcs)
    except TemplateError as exc:
        raise InvalidInput(RENDER_ERROR.format(f"error compiling subject: {exc}")) from None
    altbody: Part | None = None
    if req.altbody:
        try:
            altbody = compile_tx_text(req.altbody, funcs=funcs)
        except TemplateError as exc:
            raise InvalidInput(RENDER_ERROR.format(f"error compiling alt body: {exc}")) from None
    headers = [(name, value) for header_set in req.headers for name, value in header_set.items()]
    return CompiledTx(body=body, subject=subject, altbody=altbody, tx=TxData.of(req),
                      headers=headers)


def render_tx(compiled: CompiledTx, subscriber: Subscriber) -> MessageContent:
    """The message for one recipient; 400 ``Error rendering message: ...`` on an error."""
    dot = TxDot(Subscriber=subscriber, Tx=compiled.tx)
    try:
        body = compiled.body.render(dot)
        altbody = compiled.altbody.render(dot) if compiled.altbody is not None else None
        subject = compiled.subject.render(dot)
    except TemplateError as exc:
        raise InvalidInput(RENDER_ERROR.format(exc)) from None
    return MessageContent(to=[subscriber.Email], name=subscriber.Name, subject=subject,
                          body=body, altbody=altbody or None, headers=list(compiled.headers))
