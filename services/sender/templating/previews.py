"""E-mail templates meet the template engine: the compile check of a saved template and the
preview of a template rendered with dummy data, both worded like listmonk.

Campaign templates see listmonk's campaign functions (``TrackView``, ``UnsubscribeURL``, ...)
and the generic ones; transactional templates only the generic ones, so a tx template that
calls ``UnsubscribeURL`` does not compile, as in listmonk.
"""

from __future__ import annotations

import re
from typing import Any

from gotemplate import TemplateError, compile_template
from kernel.errors import InvalidInput
from services.sender.templating.data import (
    DUMMY_CONTENT,
    ENGLISH,
    Campaign,
    CampaignMessage,
    Subscriber,
    TxContext,
    TxMessage,
)
from services.sender.templating.funcs_listmonk import (
    I18n,
    campaign_funcs,
    generic_funcs,
    has_template_expr,
    rewrite_shorthands,
)

CONTENT_TAG = '{{ template "content" . }}'
MISSING_PLACEHOLDER = f"The placeholder {CONTENT_TAG} should appear exactly once in the template."
COMPILE_ERROR = "error compiling transactional template: {}"
SUBJECT_ERROR = "error compiling subject: {}"
PREVIEW_COMPILE_ERROR = "Error compiling template: error compiling base template: {}"
PREVIEW_RENDER_ERROR = "Error rendering message: {}"
BASE = "base"

# listmonk accepts the placeholder with any spacing, but not trim markers or other names.
_CONTENT_TAG = re.compile(r'{{\s*template\s+"content"\s*\.\s*}}')

Funcs = dict[str, Any]


def has_content_tag(body: str) -> bool:
    """Whether a campaign template body places the campaign's content."""
    return _CONTENT_TAG.search(body) is not None


def _funcs_for(template_type: str, root_url: str = "") -> Funcs:
    i18n = I18n(ENGLISH)
    if template_type == "tx":
        return generic_funcs(i18n=i18n)
    return campaign_funcs(root_url=root_url, i18n=i18n)


def check_compiles(template_type: str, body: str, subject: str) -> None:
    """Parse a template as listmonk does when it is saved (and a tx subject holding an
    expression); a syntax error or an unknown function is a 400 naming line and problem."""
    funcs = _funcs_for(template_type)
    try:
        compile_template(body, name=BASE, funcs=funcs, defer_escape_errors=True)
    except TemplateError as exc:
        raise InvalidInput(COMPILE_ERROR.format(exc)) from None
    if template_type == "tx" and has_template_expr(subject):
        try:
            compile_template(subject, name=BASE, funcs=funcs, mode="text")
        except TemplateError as exc:
            raise InvalidInput(SUBJECT_ERROR.format(exc)) from None


def preview(template_type: str, body: str, subject: str, root_url: str) -> str:
    """The HTML of a template rendered with the dummy campaign and subscriber (a campaign
    template wraps sample content; a tx template gets no data)."""
    subscriber = Subscriber()
    if template_type == "tx":
        funcs = _funcs_for(template_type)
        try:
            compiled = compile_template(body, name=BASE, funcs=funcs, defer_escape_errors=True)
        except TemplateError as exc:
            raise InvalidInput(COMPILE_ERROR.format(exc)) from None
        data: Any = TxContext(Subscriber=subscriber, Tx=TxMessage(Subject=subject))
        error = "{}"
    else:
        funcs = _funcs_for(template_type, root_url)
        base = rewrite_shorthands(body or CONTENT_TAG)
        try:
            compiled = compile_template(
                base, name=BASE, funcs=funcs, defer_escape_errors=True,
                templates={"content": rewrite_shorthands(DUMMY_CONTENT)})
        except TemplateError as exc:
            raise InvalidInput(PREVIEW_COMPILE_ERROR.format(exc)) from None
        data = CampaignMessage(Campaign=Campaign(), Subscriber=subscriber)
        error = PREVIEW_RENDER_ERROR
    try:
        return compiled.render(data)
    except TemplateError as exc:
        raise InvalidInput(error.format(exc)) from None
