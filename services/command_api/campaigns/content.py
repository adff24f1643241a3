"""A campaign's content from a request: merged onto the current content and validated the way
listmonk's ``validateCampaignFields`` does, in its order, with its messages. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import datetime
from functools import cache
from html import escape
from typing import Any
from urllib.parse import urlencode

import msgspec
from msgspec import UNSET

from events.campaigns import CONTENT_TYPES, CampaignContent, ContentType
from events.validation import check_json, check_line, check_lines, check_text
from gotemplate import TemplateError
from kernel.errors import InvalidInput
from services.command_api.campaigns.commands import (
    INVALID_FROM_EMAIL,
    INVALID_LIST_IDS,
    INVALID_NAME,
    INVALID_SEND_AT,
    INVALID_SUBJECT,
    NO_OPTIN_LISTS,
    UNKNOWN_MESSENGER,
    CampaignPatch,
    ListRef,
)
from services.command_api.subscribers.fields import sanitize_email
from services.sender.templating import compile_campaign_body
from services.sender.templating.funcs_listmonk import campaign_funcs

INVALID_BODY = "Error compiling campaign body: {}"
NAME_MAX_BYTES = 2000  # listmonk's stdInputMaxLen
SUBJECT_MAX_BYTES = 5000  # larger: a subject may hold template logic
TAG_MAX_CHARS = 100  # listmonk stores tags as VARCHAR(100)[]
SLUG_MAX_BYTES = 2000  # indexed: well under PostgreSQL's B-tree row limit
HEADER_NAME_MAX_BYTES = 1000
# "Name <local@domain>" (searched, not anchored, like Go's regexp.Match); else a bare address.
_FROM_ADDRESS = re.compile(r"((.+?)\s)?<(.+?)@(.+?)>")
_GO_SPACES = re.compile(r"[\t\n\f\r ]+")

EMPTY = CampaignContent(name="", subject="", from_email="")
"""Go's zero campaign: what a create binds the request onto."""


def merge(current: CampaignContent, patch: CampaignPatch) -> CampaignContent:
    """``current`` with every field the request sent replaced (the lists are set apart)."""
    changes = {f: getattr(patch, f) for f in patch.__struct_fields__
               if getattr(patch, f) is not UNSET}
    if "tags" in changes:
        changes["tags"] = list(changes["tags"])
    return msgspec.structs.replace(current, **changes)


def validate(content: CampaignContent, *, lists: tuple[ListRef, ...], list_ids: tuple[int, ...],
             default_from_email: str, messengers: tuple[str, ...], now: datetime
             ) -> CampaignContent:
    """The content as stored, or ``InvalidInput`` with listmonk's message for the first
    problem. The requested ``list_ids`` must all be among the live ``lists``."""
    from_email = content.from_email or default_from_email
    if content.from_email and not _FROM_ADDRESS.search(from_email):
        try:
            sanitize_email(from_email)
        except InvalidInput:
            raise InvalidInput(INVALID_FROM_EMAIL) from None
    if not 1 <= len(content.name.encode()) <= NAME_MAX_BYTES:
        raise InvalidInput(INVALID_NAME)
    if not 1 <= len(content.subject.encode()) <= SUBJECT_MAX_BYTES:
        raise InvalidInput(INVALID_SUBJECT)
    content_type = coerce_content_type(content.content_type)
    if content.send_at is not None and content.send_at < now:
        raise InvalidInput(INVALID_SEND_AT)
    found = {ref.id for ref in lists}
    if not list_ids or any(i not in found for i in list_ids):
        raise InvalidInput(INVALID_LIST_IDS)
    messenger = content.messenger or "email"
    if messenger not in messengers:
        if not messenger.startswith("email-"):
            raise InvalidInput(UNKNOWN_MESSENGER.format(messenger))
        messenger = "email"
    try:
        compile_campaign_body(content.body, funcs=_funcs(), content_type=content_type)
    except TemplateError as exc:
        raise InvalidInput(INVALID_BODY.format(exc)) from None
    if any(len(tag) > TAG_MAX_CHARS for tag in content.tags):
        raise InvalidInput(f"Invalid tags: a tag can have at most {TAG_MAX_CHARS} characters")
    check_texts(content)
    by_id = {ref.id: ref for ref in lists}
    return msgspec.structs.replace(
        content,
        from_email=from_email,
        content_type=content_type,
        body_source=content.body_source if content_type == "visual" else None,
        altbody=content.altbody or None,
        messenger=messenger,
        lists=[by_id[i].entry() for i in dict.fromkeys(list_ids)],
        archive_slug=normalize_slug(content.archive_slug or ""),
    )


@cache
def _funcs() -> dict[str, Callable[..., Any]]:
    """The functions a campaign body may call (only their names matter to compile it)."""
    return campaign_funcs(root_url="")


def coerce_content_type(value: str) -> ContentType:
    """An unknown content type becomes ``richtext`` (listmonk does not refuse it)."""
    for option in CONTENT_TYPES:
        if value == option:
            return option
    return "richtext"


def check_texts(content: CampaignContent) -> None:
    """postlog's validation boundary (``events/validation.py``) over every text of a
    campaign: one-line fields hold no control character or line break, bodies no NUL,
    JSON values no NUL and at most 64 levels; 400 naming the first field that fails."""
    check_line(content.name, "name", NAME_MAX_BYTES)
    check_line(content.subject, "subject", SUBJECT_MAX_BYTES)
    check_line(content.from_email, "from_email")
    check_line(content.messenger, "messenger")
    check_text(content.body, "body")
    for field, value in (("altbody", content.altbody), ("body_source", content.body_source)):
        if value is not None:
            check_text(value, field)
    for header in content.headers:
        for name, value in header.items():
            check_line(name, "headers", HEADER_NAME_MAX_BYTES)
            check_line(value, "headers", SUBJECT_MAX_BYTES)
    check_lines(content.tags, "tags")
    check_json(content.attribs, "attribs")
    check_json(content.archive_meta, "archive_meta")
    if content.archive_slug is not None:
        check_line(content.archive_slug, "archive_slug", SLUG_MAX_BYTES)


def normalize_slug(raw: str) -> str | None:
    """listmonk's archive slug: lower case, runs of anything but letters, marks and digits
    become one ``-``; ``None`` when nothing is left. At most ``SLUG_MAX_BYTES`` (it is
    indexed in the campaigns read model), else 400."""
    kept = "".join(c if unicodedata.category(c)[0] in "LMN" else " " for c in raw.lower())
    slug = _GO_SPACES.sub("-", kept.strip())
    return check_line(slug, "archive_slug", SLUG_MAX_BYTES) or None


def optin_body(lists: tuple[ListRef, ...]) -> str:
    """The message of an opt-in campaign: asks subscribers of the double opt-in lists to
    confirm, naming the public lists, with the opt-in link carrying the lists' uuids.

    listmonk's ``OptinURL`` ends with ``?``, so the query follows it directly.
    """
    double = [ref for ref in lists if ref.optin == "double"]
    if not double:
        raise InvalidInput(NO_OPTIN_LISTS)
    items = "\n".join(
        f"    <li>{escape(ref.name) if ref.list_type == 'public' else 'Private list'}</li>"
        for ref in double)
    query = escape(urlencode([("l", ref.uuid) for ref in double]))
    return (
        "<p>Hi {{ .Subscriber.FirstName }},</p>\n"
        "<p>Please confirm that you want to receive e-mails from the following lists:</p>\n"
        f"<ul>\n{items}\n</ul>\n"
        f'<p>\n    <a class="button" href="{{{{ OptinURL }}}}{query}">Confirm subscription</a>\n'
        "</p>\n"
    )
