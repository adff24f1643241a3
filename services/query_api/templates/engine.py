"""E-mail templates meet the template engine: the compile check of a saved template and the
preview of a template rendered with dummy data, both worded like listmonk.

Campaign templates see listmonk's campaign functions (``TrackView``, ``UnsubscribeURL``, ...)
and the generic ones; transactional templates only the generic ones, so a tx template that
calls ``UnsubscribeURL`` does not compile, as in listmonk.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from services.command_api.domain import InvalidInput
from services.http.errors import APIError
from services.query_api.templates.preview_data import (
    DUMMY_CONTENT,
    DUMMY_UUID,
    Campaign,
    CampaignMessage,
    I18n,
    Subscriber,
    TxContext,
    TxMessage,
)
from services.sender.templating import HTML, TemplateError, compile_template, gofunc
from services.sender.templating.gotime import format_time

CONTENT_TAG = '{{ template "content" . }}'
MISSING_PLACEHOLDER = f"The placeholder {CONTENT_TAG} should appear exactly once in the template."
COMPILE_ERROR = "error compiling transactional template: {}"
SUBJECT_ERROR = "error compiling subject: {}"
PREVIEW_COMPILE_ERROR = "Error compiling template: error compiling base template: {}"
PREVIEW_RENDER_ERROR = "Error rendering message: {}"
BASE = "base"
ANSIC = "Mon Jan _2 15:04:05 2006"

# listmonk accepts the placeholder with any spacing, but not trim markers or other names.
_CONTENT_TAG = re.compile(r'{{\s*template\s+"content"\s*\.\s*}}')
# listmonk's shorthands, rewritten before rendering: {{ TrackLink "url" }}, url@TrackLink and
# the message functions called without the message.
_TRACK_LINK = re.compile(r'{{\s*TrackLink\s+"([^"]+)"\s*}}')
_TRACK_LINK_SUFFIX = re.compile(r"(https?://[\w\-.~!#$&'()*+,/:;=?@\[\]%]*)@TrackLink")
_MESSAGE_FUNCS = re.compile(r"{{\s*(TrackView|UnsubscribeURL|ManageURL|OptinURL|MessageURL)\s*}}")

Funcs = dict[str, Callable[..., Any]]


def has_content_tag(body: str) -> bool:
    """Whether a campaign template body places the campaign's content."""
    return _CONTENT_TAG.search(body) is not None


def has_template_expression(text: str) -> bool:
    """listmonk compiles a subject only when it holds ``{{ ... }}``."""
    _, found, after = text.partition("{{")
    return bool(found) and "}}" in after


def rewrite_shorthands(body: str) -> str:
    """Expand listmonk's shorthands into calls that pass the message (``.``)."""
    body = _TRACK_LINK.sub(r'{{ TrackLink "\1" . }}', body)
    body = _TRACK_LINK_SUFFIX.sub(r'{{ TrackLink "\1" . }}', body)
    return _MESSAGE_FUNCS.sub(r"{{ \1 . }}", body)


def generic_funcs() -> Funcs:
    """Functions every template has: ``Date``, ``L``, ``Safe``."""

    @gofunc("string")
    def date(layout: str) -> str:
        return format_time(datetime.now(UTC), layout or ANSIC)

    @gofunc("string")
    def safe(text: str) -> HTML:
        return HTML(text)

    i18n = I18n()
    return {"Date": date, "L": lambda: i18n, "Safe": safe}


def campaign_funcs(root_url: str = "") -> Funcs:
    """listmonk's campaign functions over a message; links point under ``root_url``.

    A preview records nothing, so ``TrackLink`` returns the link itself.
    """
    root = root_url.rstrip("/")

    def ids(msg: Any) -> tuple[str, str]:
        if isinstance(msg, CampaignMessage):
            return msg.Campaign.UUID, msg.Subscriber.UUID
        return DUMMY_UUID, DUMMY_UUID

    @gofunc("string", "any")
    def track_link(url: str, msg: Any) -> str:
        return url

    @gofunc("any")
    def track_view(msg: Any) -> HTML:
        campaign, _ = ids(msg)  # without individual tracking every subscriber is the dummy
        return HTML(f'<img src="{root}/campaign/{campaign}/{DUMMY_UUID}/px.png" width="1"'
                    ' height="1" style="display:none;max-height:0;max-width:0;opacity:0"'
                    ' alt="">')

    @gofunc("any")
    def unsubscribe_url(msg: Any) -> str:
        campaign, subscriber = ids(msg)
        return f"{root}/subscription/{campaign}/{subscriber}"

    @gofunc("any")
    def manage_url(msg: Any) -> str:
        campaign, subscriber = ids(msg)
        return f"{root}/subscription/{campaign}/{subscriber}?manage=true"

    @gofunc("any")
    def optin_url(msg: Any) -> str:
        return f"{root}/subscription/optin/{ids(msg)[1]}?"

    @gofunc("any")
    def message_url(msg: Any) -> str:
        campaign, subscriber = ids(msg)
        return f"{root}/campaign/{campaign}/{subscriber}"

    return {**generic_funcs(), "TrackLink": track_link, "TrackView": track_view,
            "UnsubscribeURL": unsubscribe_url, "ManageURL": manage_url, "OptinURL": optin_url,
            "MessageURL": message_url, "ArchiveURL": lambda: f"{root}/archive",
            "RootURL": lambda: root}


def _funcs_for(template_type: str, root_url: str = "") -> Funcs:
    return generic_funcs() if template_type == "tx" else campaign_funcs(root_url)


def check_compiles(template_type: str, body: str, subject: str) -> None:
    """Parse a template as listmonk does when it is saved (and a tx subject holding an
    expression); a syntax error or an unknown function is a 400 naming line and problem."""
    funcs = _funcs_for(template_type)
    try:
        compile_template(body, name=BASE, funcs=funcs, defer_escape_errors=True)
    except TemplateError as exc:
        raise InvalidInput(COMPILE_ERROR.format(exc)) from None
    if template_type == "tx" and has_template_expression(subject):
        try:
            compile_template(subject, name=BASE, funcs=funcs, mode="text")
        except TemplateError as exc:
            raise InvalidInput(SUBJECT_ERROR.format(exc)) from None


def preview(template_type: str, body: str, subject: str, root_url: str) -> str:
    """The HTML of a template rendered with the dummy campaign and subscriber (a campaign
    template wraps sample content; a tx template gets no data)."""
    subscriber = Subscriber()
    if template_type == "tx":
        funcs = generic_funcs()
        try:
            compiled = compile_template(body, name=BASE, funcs=funcs, defer_escape_errors=True)
        except TemplateError as exc:
            raise APIError(400, COMPILE_ERROR.format(exc)) from None
        data: Any = TxContext(Subscriber=subscriber, Tx=TxMessage(Subject=subject))
        error = "{}"
    else:
        funcs = campaign_funcs(root_url)
        base = rewrite_shorthands(body or CONTENT_TAG)
        try:
            compiled = compile_template(
                base, name=BASE, funcs=funcs, defer_escape_errors=True,
                templates={"content": rewrite_shorthands(DUMMY_CONTENT)})
        except TemplateError as exc:
            raise APIError(400, PREVIEW_COMPILE_ERROR.format(exc)) from None
        data = CampaignMessage(Campaign=Campaign(), Subscriber=subscriber)
        error = PREVIEW_RENDER_ERROR
    try:
        return compiled.render(data)
    except TemplateError as exc:
        raise APIError(400, error.format(exc)) from None
